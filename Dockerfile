# tmi-server: one image for every instance (API, job workers, or both; see TMI_ROLES).
FROM node:20-slim

WORKDIR /app
RUN chown node:node /app
USER node

# Dependencies first, so a code change does not reinstall them. Install scripts are skipped on
# purpose: every generation step is the explicit `npm run generate` below. tsx (a devDependency) runs
# the TypeScript sources, so the full dependency set is installed.
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# Prisma client, Pothos types, the printed GraphQL schema and the REST face's typed documents.
COPY --chown=node:node . .
RUN npm run generate

ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
EXPOSE 8080
CMD ["node", "--import", "tsx", "src/main.ts"]
