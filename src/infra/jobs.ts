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
  /** With backoff: the longest wait between attempts. */
  retryDelayMaxSeconds?: number;
  expireInSeconds: number;
  /** A cron expression when the job runs on a schedule instead of (or as well as) being enqueued. */
  schedule?: string;
  /** Wake workers by NOTIFY when a job is enqueued, instead of at their next poll. */
  notify?: boolean;
}

export function defineJob<S extends z.ZodType>(definition: JobDefinition<S>): JobDefinition<S> {
  return definition;
}

export type JobHandler<S extends z.ZodType> = (
  payload: z.output<S>,
  meta: { jobId: string; log: Logger },
) => Promise<void>;

/** One job of a batch as its handler sees it: `attempt` counts from 1. */
export interface BatchItem<P> {
  jobId: string;
  payload: P;
  attempt: number;
}

/** Settles each job of a batch on its own: `failed` ones are retried by the queue's policy. */
export type BatchHandler<S extends z.ZodType> = (
  items: BatchItem<z.output<S>>[],
  meta: { log: Logger },
) => Promise<Map<string, 'completed' | 'failed'>>;

export interface BatchOptions {
  /** Jobs fetched per batch. */
  size: number;
  /** Batches in flight at once, per process. */
  concurrency: number;
}

interface RegisteredSingleJob {
  definition: JobDefinition<z.ZodType>;
  handler: JobHandler<z.ZodType>;
  batch?: undefined;
}
interface RegisteredBatchJob {
  definition: JobDefinition<z.ZodType>;
  handler: BatchHandler<z.ZodType>;
  batch: BatchOptions;
}
type RegisteredJob = RegisteredSingleJob | RegisteredBatchJob;

export interface Jobs {
  /** Enqueues inside the caller's transaction: the job exists only if the change commits. */
  enqueue<S extends z.ZodType>(
    tx: PrismaTransactionLike,
    job: JobDefinition<S>,
    payload: z.input<S>,
  ): Promise<string | null>;
  /** Enqueues many jobs in one statement inside the caller's transaction; `id` names the job when given. */
  enqueueMany<S extends z.ZodType>(
    tx: PrismaTransactionLike,
    job: JobDefinition<S>,
    items: { id?: string; payload: z.input<S> }[],
  ): Promise<void>;
  /** Whether a job with this id exists in the queue (in any state pg-boss still keeps). */
  exists(name: string, id: string): Promise<boolean>;
  isRunning(): boolean;
  stop(): Promise<void>;
}

export async function startJobs(options: {
  connectionString: string;
  schema: string;
  log: Logger;
  registry: RegisteredJob[];
  work: boolean;
  /** How often expired jobs (a worker that died mid-job) are found and retried. */
  superviseIntervalSeconds?: number;
}): Promise<Jobs> {
  const log = options.log.child({ module: 'jobs' });
  const boss = new PgBoss({
    connectionString: options.connectionString,
    application_name: 'tmi-jobs',
    schema: options.schema,
    // Few connections: every instance of a deployment (and every test server) holds its own pool.
    max: 4,
    useListenNotify: true,
    // Expired jobs are found by the monitor pass, which runs at the slower of these two intervals.
    ...(options.superviseIntervalSeconds
      ? {
          superviseIntervalSeconds: options.superviseIntervalSeconds,
          monitorIntervalSeconds: options.superviseIntervalSeconds,
        }
      : {}),
  });
  let running = false;
  boss.on('error', (error) => log.error({ err: error }, 'job queue error'));
  await boss.start();
  running = true;

  for (const { definition } of options.registry) {
    const policy = {
      retryLimit: definition.retryLimit,
      retryDelay: definition.retryDelaySeconds,
      retryBackoff: definition.retryBackoff,
      ...(definition.retryDelayMaxSeconds ? { retryDelayMax: definition.retryDelayMaxSeconds } : {}),
      expireInSeconds: definition.expireInSeconds,
      notify: definition.notify ?? false,
    };
    // An existing queue takes the policy as configured now (it may have changed since it was created).
    if (await boss.getQueue(definition.name)) await boss.updateQueue(definition.name, policy);
    else await boss.createQueue(definition.name, policy);
  }

  if (options.work) {
    for (const registered of options.registry) {
      const { definition } = registered;
      if (registered.batch) {
        const { handler, batch } = registered;
        const batchLog = log.child({ job: definition.name });
        await boss.work(
          definition.name,
          {
            batchSize: batch.size,
            localConcurrency: batch.concurrency,
            perJobResults: true,
            burstWhenBatchFull: true,
            pollingIntervalSeconds: 1,
            // NOTIFY wakes the worker for new jobs but not for retries coming due: poll for those.
            notifyPollingIntervalSeconds: 1,
          },
          async (jobs: BossJob<unknown>[]) => {
            const items: BatchItem<unknown>[] = [];
            const malformed: string[] = [];
            for (const job of jobs) {
              const parsed = definition.schema.safeParse(job.data);
              if (parsed.success) items.push({ jobId: job.id, payload: parsed.data, attempt: job.retryCount + 1 });
              else malformed.push(job.id);
            }
            for (const id of malformed) batchLog.error({ jobId: id }, 'job payload does not match its schema');
            const outcomes = items.length > 0 ? await handler(items, { log: batchLog }) : new Map();
            return jobs.map((job) => ({
              id: job.id,
              status: malformed.includes(job.id) ? ('deadletter' as const) : (outcomes.get(job.id) ?? 'failed'),
            }));
          },
        );
        continue;
      }
      const { handler } = registered;
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
    async enqueueMany(tx, job, items) {
      if (items.length === 0) return;
      const rows = items.map((item) => ({
        ...(item.id ? { id: item.id } : {}),
        data: job.schema.parse(item.payload) as object,
      }));
      await boss.insert(job.name, rows, { db: fromPrisma(tx) });
    },
    async exists(name, id) {
      return (await boss.getJobById(name, id)) !== null;
    },
    isRunning: () => running,
    async stop() {
      if (!running) return;
      running = false;
      await boss.stop({ graceful: true, timeout: 5000 });
    },
  };
}

export function registerJob<S extends z.ZodType>(
  definition: JobDefinition<S>,
  handler: JobHandler<S>,
): RegisteredSingleJob {
  return { definition: definition as unknown as JobDefinition<z.ZodType>, handler: handler as JobHandler<z.ZodType> };
}

/** A job worked in batches whose jobs succeed or fail one by one (deliveries to many receivers). */
export function registerBatchJob<S extends z.ZodType>(
  definition: JobDefinition<S>,
  batch: BatchOptions,
  handler: BatchHandler<S>,
): RegisteredBatchJob {
  return {
    definition: definition as unknown as JobDefinition<z.ZodType>,
    handler: handler as unknown as BatchHandler<z.ZodType>,
    batch,
  };
}
