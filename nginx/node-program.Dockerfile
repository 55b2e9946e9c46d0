# The stack's own Node.js programs, one image each: WORKSPACE is the program's npm workspace
# (nginx/certs: the certificate manager; nginx/monitor: the /status figures; nginx/namespace:
# the server service, which owns the network namespace; db/migrate: the
# migration runner), whose package.json holds its npm packages, so no image carries another's
# (or the app's); PROGRAM is the folder its build lands in. docker-compose.yml gives each its
# command and user.
# NODE_IMAGE: the official image by default, or the local stand-in (scripts/lib/images.sh).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
ARG WORKSPACE
ARG PROGRAM
# Where the lock file is: dist/ in the packed npm package (see app/Dockerfile).
ARG LOCKFILE=package-lock.json
WORKDIR /src
COPY package.json ./
COPY ${LOCKFILE} ./package-lock.json
COPY ${WORKSPACE}/package.json ${WORKSPACE}/
# The root's packages too: TypeScript is a dev dependency of the repo.
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build_ca; fi; \
    npm ci --workspace=${WORKSPACE} --include-workspace-root --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY ${WORKSPACE}/tsconfig.json ${WORKSPACE}/
COPY ${WORKSPACE}/src/ ${WORKSPACE}/src/
RUN npx tsc -p ${WORKSPACE}/tsconfig.json

FROM ${NODE_IMAGE} AS production-deps
ARG WORKSPACE
ARG PROGRAM
ARG LOCKFILE=package-lock.json
WORKDIR /src
COPY package.json ./
COPY ${LOCKFILE} ./package-lock.json
COPY ${WORKSPACE}/package.json ${WORKSPACE}/
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build_ca; fi; \
    npm ci --omit=dev --workspace=${WORKSPACE} --ignore-scripts --no-audit --no-fund \
    && rm -rf node_modules/@webstack

FROM ${NODE_IMAGE}
ARG WORKSPACE
ARG PROGRAM
ENV NODE_ENV=production
WORKDIR /srv
COPY --from=production-deps /src/node_modules/ node_modules/
COPY ${WORKSPACE}/package.json ./
COPY --from=build /src/${WORKSPACE}/dist/ ${PROGRAM}/dist/
# A program's own volume mounts here (the monitor's alerts), writable by the node user it
# runs as: Docker gives an empty volume this folder's owner.
RUN mkdir /srv/state && chown node:node /srv/state
