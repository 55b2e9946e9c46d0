#!/bin/bash
# Container health check: nginx answers on port 80 with its redirect to https (the site
# itself is only on 443). Uses bash's /dev/tcp because curl is not in every nginx image.
set -euo pipefail
exec 3<>/dev/tcp/127.0.0.1/80
printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
read -r -t 3 status_line <&3
[[ "$status_line" == "HTTP/1.1 301 "* ]]
