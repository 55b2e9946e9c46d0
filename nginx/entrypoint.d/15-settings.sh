#!/usr/bin/env bash
# The site's server blocks, rate limits and /status password, from the settings.
set -euo pipefail
exec nginx-settings render
