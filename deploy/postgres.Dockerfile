# syntax=docker/dockerfile:1
#
# PostgreSQL for Gaji: the official image plus the RUM extension (core's
# migration scenarios 0006 creates it; scenario search ranks in its index).
# The official images carry the PGDG apt repository, which has the package.
FROM postgres:15
RUN apt-get update \
 && apt-get install --yes --no-install-recommends "postgresql-${PG_MAJOR}-rum" \
 && rm -rf /var/lib/apt/lists/*
