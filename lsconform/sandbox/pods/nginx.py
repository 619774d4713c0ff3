"""The frontend pod as real nginx, with the chart's server block.

The chart's `nginx.conf` (ConfigMap `<fullname>-frontend`) listens on container port 8080, returns
200 for `/health`, serves `stub_status` at `/nginx_status` only to 127.0.0.1 and ::1, and sends
every other path to the single-page app (`try_files $uri $uri/ /index.html`). Its access log is
one JSON object per request (format `cache_log_json`) on stdout, which the sandbox turns into CRI
lines in the node log file.
"""

from __future__ import annotations

from pathlib import Path

from lsconform.constants import NGINX_STATUS_ALLOWED_CLIENTS, NGINX_STATUS_PATH

INDEX_HTML = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>LangSmith</title>'
    '</head><body><div id="root"></div></body></html>\n'
)

# Field order and JSON types follow the chart's `cache_log_json` format: status and
# body_bytes_sent are numbers, everything else is a string.
ACCESS_LOG_FORMAT = (
    "'{'\n"
    '        \'"remote_addr":"$remote_addr",\'\n'
    '        \'"remote_user":"$remote_user",\'\n'
    '        \'"time_local":"$time_local",\'\n'
    '        \'"request":"$request",\'\n'
    "        '\"status\":$status,'\n"
    "        '\"body_bytes_sent\":$body_bytes_sent,'\n"
    '        \'"http_referer":"$http_referer",\'\n'
    '        \'"http_user_agent":"$http_user_agent",\'\n'
    '        \'"cache_status":"$upstream_cache_status"\'\n'
    "    '}'"
)


def render_config(run_dir: Path, ip: str, port: int, *, status_location: bool) -> str:
    """Render nginx.conf for one frontend pod.

    `status_location=False` (fault `nginx-status-missing`) drops both the `/nginx_status` location
    and the SPA fallback, so that `/nginx_status` returns 404.
    """
    html = run_dir / "html"
    tmp = run_dir / "tmp"
    allow = "".join(f"            allow {client};\n" for client in NGINX_STATUS_ALLOWED_CLIENTS)
    spa = (
        f"        location / {{\n            root \"{html}\";\n"
        "            index index.html index.htm;\n"
        + ("            try_files $uri $uri/ /index.html;\n" if status_location else "")
        + "        }\n"
    )
    status = (
        f"        location = {NGINX_STATUS_PATH} {{\n            stub_status on;\n"
        f"            access_log off;\n{allow}            deny all;\n        }}\n"
        if status_location
        else ""
    )
    # One process and no workers: the workers of a master killed with the sandbox would live on,
    # because only the master carries the parent-death signal. Without a master, nginx also
    # keeps the sandbox's user, which can read the workdir (workers would switch to `nobody`).
    return (
        "daemon off;\nmaster_process off;\n"
        f"pid \"{run_dir / 'nginx.pid'}\";\nerror_log stderr notice;\n\n"
        "events {\n    worker_connections 256;\n}\n\n"
        "http {\n"
        "    types {\n        text/html html htm;\n        text/css css;\n"
        "        application/javascript js;\n        application/json json;\n    }\n"
        "    default_type application/octet-stream;\n"
        f"    client_body_temp_path \"{tmp / 'client_body'}\";\n"
        f"    proxy_temp_path \"{tmp / 'proxy'}\";\n"
        f"    fastcgi_temp_path \"{tmp / 'fastcgi'}\";\n"
        f"    uwsgi_temp_path \"{tmp / 'uwsgi'}\";\n"
        f"    scgi_temp_path \"{tmp / 'scgi'}\";\n"
        f"    log_format cache_log_json escape=json {ACCESS_LOG_FORMAT};\n\n"
        "    server {\n"
        f"        listen {ip}:{port};\n"
        "        server_name localhost;\n"
        "        client_max_body_size 25M;\n"
        "        keepalive_timeout 75;\n"
        '        add_header X-Frame-Options "SAMEORIGIN" always;\n'
        '        add_header X-Content-Type-Options "nosniff" always;\n'
        "        access_log /dev/stdout cache_log_json;\n\n"
        f"{spa}\n"
        "        location = /health {\n            access_log off;\n            return 200;\n"
        "        }\n\n"
        f"{status}"
        "    }\n"
        "}\n"
    )


def prepare(run_dir: Path, ip: str, port: int, *, status_location: bool) -> Path:
    """Write nginx.conf, the temp directories and index.html; return the config path."""
    for sub in (
        "html",
        "logs",
        "tmp/client_body",
        "tmp/proxy",
        "tmp/fastcgi",
        "tmp/uwsgi",
        "tmp/scgi",
    ):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    (run_dir / "html" / "index.html").write_text(INDEX_HTML, encoding="utf-8")
    config = run_dir / "nginx.conf"
    config.write_text(render_config(run_dir, ip, port, status_location=status_location))
    return config


def command(binary: str, run_dir: Path, config: Path) -> list[str]:
    """Return the nginx command line, with the prefix and error log inside the run directory."""
    return [binary, "-p", f"{run_dir}/", "-c", str(config), "-e", "stderr"]
