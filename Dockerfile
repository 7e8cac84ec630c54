# One image for the four services (and the SMS sink used in docker-compose); the command picks the service.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --system --uid 10001 psc

COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY devstack ./devstack
COPY psc ./psc
RUN pip install .

USER psc
# Services listen on all interfaces inside the container; each reads PSC_<SERVICE>_HTTP_HOST/PORT.
ENV PSC_INTAKE_HTTP_HOST=0.0.0.0 PSC_ROUTING_HTTP_HOST=0.0.0.0 PSC_NOTIFY_HTTP_HOST=0.0.0.0 PSC_CATALOG_HTTP_HOST=0.0.0.0
CMD ["python", "-m", "services.intake"]
