import { fromPrisma, PgBoss, type PrismaTransactionLike, type Job as BossJob } from 'pg-boss';
import type { z } from 'zod';
import type { Logger } from './logger.js';

/** A job is a name, a payload schema and its queue policy; handlers are registered separately. */
export interface JobDefinition<S extends z.ZodType> {
  name: string;
  schema: S;
  retryLimit: number;
  retryDelaySeconds: number;
  retryBackoff: boolean;
  expireInSeconds: number;
  /** A cron expression when the job runs on a schedule instead of (or as well as) being enqueued. */
  schedule?: string;
}

export function defineJob<S extends z.ZodType>(definition: JobDefinition<S>): JobDefinition<S> {
  return definition;
}

export type JobHandler<S extends z.ZodType> = (
  payload: z.output<S>,
  meta: { jobId: string; log: Logger },
) => Promise<void>;

interface RegisteredJob {
  definition: JobDefinition<z.ZodType>;
  handler: JobHandler<z.ZodType>;
}

export interface Jobs {
  /** Enqueues inside the caller's transaction: the job exists only if the change commits. */
  enqueue<S extends z.ZodType>(
    tx: PrismaTransactionLike,
    job: JobDefinition<S>,
    payload: z.input<S>,
  ): Promise<string | null>;
  isRunning(): boolean;
  stop(): Promise<void>;
}

export async function startJobs(options: {
  connectionString: string;
  schema: string;
  log: Logger;
  registry: RegisteredJob[];
  work: boolean;
}): Promise<Jobs> {
  const log = options.log.child({ module: 'jobs' });
  const boss = new PgBoss({ connectionString: options.connectionString, schema: options.schema, max: 4 });
  let running = false;
  boss.on('error', (error) => log.error({ err: error }, 'job queue error'));
  await boss.start();
  running = true;

  for (const { definition } of options.registry) {
    await boss.createQueue(definition.name, {
      retryLimit: definition.retryLimit,
      retryDelay: definition.retryDelaySeconds,
      retryBackoff: definition.retryBackoff,
      expireInSeconds: definition.expireInSeconds,
    });
  }

  if (options.work) {
    for (const { definition, handler } of options.registry) {
      await boss.work(definition.name, async (jobs: BossJob<unknown>[]) => {
        for (const job of jobs) {
          const jobLog = log.child({ job: definition.name, jobId: job.id });
          const payload = definition.schema.parse(job.data);
          await handler(payload, { jobId: job.id, log: jobLog });
        }
      });
      if (definition.schedule) await boss.schedule(definition.name, definition.schedule, {});
    }
  }

  return {
    async enqueue(tx, job, payload) {
      const data = job.schema.parse(payload) as object;
      return boss.send(job.name, data, { db: fromPrisma(tx) });
    },
    isRunning: () => running,
    async stop() {
      if (!running) return;
      running = false;
      await boss.stop({ graceful: true, timeout: 5000 });
    },
  };
}

export function registerJob<S extends z.ZodType>(definition: JobDefinition<S>, handler: JobHandler<S>): RegisteredJob {
  return { definition: definition as unknown as JobDefinition<z.ZodType>, handler: handler as JobHandler<z.ZodType> };
}
