# The stack's own Node.js programs beside nginx, one image each: PROGRAM names the program's
# npm workspace under nginx/ (certs: the certificate manager; monitor: the /status figures),
# whose package.json holds its npm packages, so no image carries another's (or the app's).
# docker-compose.yml gives each its command and user.
# NODE_IMAGE: the official image by default, or the local stand-in (scripts/lib/images.sh).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG PROGRAM
# Where the lock file is: dist/ in the packed npm package (see app/Dockerfile).
ARG LOCKFILE=package-lock.json
WORKDIR /src
COPY package.json ./
COPY ${LOCKFILE} ./package-lock.json
COPY nginx/${PROGRAM}/package.json nginx/${PROGRAM}/
# The root's packages too: TypeScript is a dev dependency of the repo.
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build_ca; fi; \
    npm ci --workspace=nginx/${PROGRAM} --include-workspace-root --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY nginx/${PROGRAM}/tsconfig.json nginx/${PROGRAM}/
COPY nginx/${PROGRAM}/src/ nginx/${PROGRAM}/src/
RUN npx tsc -p nginx/${PROGRAM}/tsconfig.json

FROM ${NODE_IMAGE} AS production-deps
ARG PROGRAM
ARG LOCKFILE=package-lock.json
WORKDIR /src
COPY package.json ./
COPY ${LOCKFILE} ./package-lock.json
COPY nginx/${PROGRAM}/package.json nginx/${PROGRAM}/
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build_ca; fi; \
    npm ci --omit=dev --workspace=nginx/${PROGRAM} --ignore-scripts --no-audit --no-fund \
    && rm -rf node_modules/@webstack

FROM ${NODE_IMAGE}
ARG PROGRAM
ENV NODE_ENV=production
WORKDIR /srv
COPY --from=production-deps /src/node_modules/ node_modules/
COPY nginx/${PROGRAM}/package.json ./
COPY --from=build /src/nginx/${PROGRAM}/dist/ ${PROGRAM}/dist/
