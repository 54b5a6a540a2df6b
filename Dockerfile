# syntax=docker/dockerfile:1
# secretwire: build with the full toolchain, ship only Node.js 24 LTS, the compiled code and production
# dependencies, running as a non-root user.

FROM node:24-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" would build before the sources are copied; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Production dependencies only, without source maps, typings, docs and tests (halves node_modules).
RUN npm run build && npm run prune:runtime

FROM node:24-alpine
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The uid the Deployment runs as (deploy/webhook/deployment.yaml); no write access to the image.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
