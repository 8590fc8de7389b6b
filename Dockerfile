# One image for every service of docker-compose.yml: the backend, the migrations, the worker and
# the reaper. .dockerignore keeps secrets (.env), the venv, databases and caches out of it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The whole tree from the lock: every package pinned, every file checked against its hash,
# nothing the lock does not name (`make lock` writes it from requirements.txt).
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock

COPY . .
# collectstatic needs settings that import; the real SECRET_KEY comes at run time.
RUN SECRET_KEY=build-only python manage.py collectstatic --no-input

RUN useradd --create-home sprites
USER sprites
EXPOSE 8000
# Migrations are not applied here: compose's one-off `migrate` service does that, once.
CMD ["gunicorn", "sprite_backend.wsgi:application", "-c", "gunicorn.conf.py"]
