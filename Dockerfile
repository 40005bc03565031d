# tuzheng (土整) web app. Build: docker compose build; run: docker compose up
# (the db service is postgis/postgis; see docker-compose.yml).

# --- Front-end assets (Leaflet etc.), served by the app itself: no CDN at run time.
FROM node:20-slim AS assets
WORKDIR /assets
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# --- The application.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TUZHENG_API_HOST=0.0.0.0 \
    TUZHENG_API_PORT=8000
WORKDIR /app
# The CJK font the PDF review reports and printed maps embed.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*
# Wheels of shapely, pyproj, pyogrio and psycopg[binary] bundle GEOS, PROJ, GDAL and libpq.
COPY pyproject.toml README.md ./
COPY spatial ./spatial
COPY api ./api
COPY data ./data
COPY docker/start.sh ./docker/start.sh
RUN pip install -e . \
    && useradd --create-home --uid 1000 tuzheng \
    && mkdir -p /app/.uploads \
    && chown -R tuzheng /app/.uploads
COPY --from=assets /assets/node_modules ./node_modules
USER tuzheng
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
# Runs the migrations (tuzheng db migrate), loads the demo district when the database is
# empty, then serves api.app:app_factory with uvicorn on 0.0.0.0:8000. Reads DATABASE_URL.
CMD ["sh", "/app/docker/start.sh"]
