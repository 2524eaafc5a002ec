#!/bin/sh
# Container entrypoint: the first argument is the role.
set -e
role="${1:-web}"; shift || true
case "$role" in
  web)     exec gunicorn config.wsgi:application --config deploy/gunicorn.conf.py ;;
  worker)  exec celery -A config worker -Q default -l INFO ;;
  beat)    exec celery -A config beat -l INFO -s /var/lib/cpx/celerybeat-schedule ;;
  station) exec python manage.py run_station "$@" ;;
  migrate) exec python manage.py migrate --noinput ;;
  *)       exec "$role" "$@" ;;
esac
