FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# collectstatic needs settings that import; the real SECRET_KEY comes at run time.
RUN SECRET_KEY=build-only python manage.py collectstatic --no-input

RUN useradd --create-home sprites
USER sprites
EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --no-input && exec gunicorn sprite_backend.wsgi:application -c gunicorn.conf.py"]
