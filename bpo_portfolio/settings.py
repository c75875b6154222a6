"""Settings for BPO Innovation Portfolio.

Everything comes from environment variables (see the README's configuration table). With nothing
set the app runs *embedded*: SQLite, Celery tasks executed eagerly in-process, a development secret
generated once into a local file, DEBUG off unless asked. ``DJANGO_ENV=production`` turns the
development conveniences off and refuses to start without ``DJANGO_SECRET_KEY``.
"""

import datetime as dt
import secrets
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'.")
IS_PRODUCTION = DJANGO_ENV == "production"


def _development_secret_key() -> str:
    """A random key kept in a git-ignored file, so sessions survive restarts of `make run`."""
    key_file = BASE_DIR / ".dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_ENV=production.")
    SECRET_KEY = _development_secret_key()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_celery_beat",
    "django_prometheus",
    "axes",
    "csp",
    "bpo_portfolio.apps.PortfolioConfig",
    "accounts.apps.AccountsConfig",
    "outbox.apps.OutboxConfig",
    "projects.apps.ProjectsConfig",
    "kpis.apps.KpisConfig",
    "notifications.apps.NotificationsConfig",
    "webhooks.apps.WebhooksConfig",
    "collab.apps.CollabConfig",
    "presentation.apps.PresentationConfig",
    "reviews.apps.ReviewsConfig",
    "workspace.apps.WorkspaceConfig",
    "imports.apps.ImportsConfig",
    "web.apps.WebConfig",
    "api.apps.ApiConfig",
    "demo.apps.DemoConfig",
]

MIDDLEWARE = [
    # Request counts and latency by route (bpo_portfolio.metrics); Before first, After last.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Early, so that every later middleware's log lines carry the request id.
    "bpo_portfolio.observability.RequestIdMiddleware",
    # Then, so that every answer under /api/ — Django's own 404, 400, CSRF 403 and 500 pages
    # included — has the API's JSON error shape.
    "api.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (bpo_portfolio.security).
    "csp.middleware.CSPMiddleware",
    "bpo_portfolio.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last before the metrics, so its 503 for a lost database is still counted and logged.
    "bpo_portfolio.resilience.DatabaseUnavailableMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Answers locked-out sign-ins (bpo_portfolio.security); django-axes wants it last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bpo_portfolio.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.context_processors.user_role",
            ],
        },
    },
]

WSGI_APPLICATION = "bpo_portfolio.wsgi.application"

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASE_VENDOR = "sqlite" if DATABASES["default"]["ENGINE"].endswith("sqlite3") else "postgresql"
# The same backends wrapped by django-prometheus, which counts queries and errors for /metrics.
DATABASES["default"]["ENGINE"] = {
    "sqlite": "django_prometheus.db.backends.sqlite3",
    "postgresql": "django_prometheus.db.backends.postgresql",
}[DATABASE_VENDOR]
if DATABASE_VENDOR == "sqlite":
    # Concurrent writers on SQLite: take the write lock at BEGIN (no "database is locked" when a
    # read transaction upgrades), wait for it instead of failing, and let readers run beside a
    # writer (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # A database that does not answer fails a request (and /readyz) in seconds instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    # Behind PgBouncer in transaction mode each transaction may run on a different server
    # connection, so nothing may outlive one: no server-side cursors (Django's `.iterator()` keeps
    # a WITH HOLD cursor open across them; with this set it reads in client-side chunks instead).
    # The rest of the app keeps no session state: its settings, locks and the roll-up's staging
    # table are transaction-scoped (`set_config(…, true)`, `pg_advisory_xact_lock`, a temporary
    # table ON COMMIT DROP); no prepared statements, LISTEN or session-level temporary tables.
    # Tested through a real PgBouncer in tests/ops/test_pgbouncer.py.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, Celery -------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Without a broker, tasks run in-process right away: the embedded default needs no services.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://localhost/"
# Results are kept only by the tasks that ask for them (the fanned-out roll-up's batches, which its
# chord counts); everything else ignores its result.
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL) or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = dt.timedelta(days=1)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Reliability: a task is acknowledged only when done, re-queued if its worker dies, and a worker
# holds one message at a time. Hard time limits stay well below Redis' visibility timeout so a
# slow task is killed before the broker would hand the same message to a second worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SOFT_TIME_LIMIT = 540
CELERY_TASK_TIME_LIMIT = 600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Queues per job type (docs/deploy.md), for a deployment that gives each kind of job workers of its
# own: score roll-ups, spreadsheet imports, webhook deliveries, PDF packs. Off by default: every
# task then goes to the default queue `celery`, which every worker takes. A worker that should take
# everything in either case listens to all of them: `-Q celery,scores,imports,webhooks,pdf`.
CELERY_QUEUES_BY_JOB_TYPE = env.bool("CELERY_QUEUES_BY_JOB_TYPE", default=False)
JOB_TYPE_QUEUES = {
    "kpis.tasks.*": "scores",
    "imports.tasks.*": "imports",
    "outbox.tasks.*": "webhooks",
    "webhooks.tasks.*": "webhooks",
    "reviews.tasks.*": "pdf",
}
if CELERY_QUEUES_BY_JOB_TYPE:
    CELERY_TASK_ROUTES = {pattern: {"queue": queue} for pattern, queue in JOB_TYPE_QUEUES.items()}
# Publishing must not hang a web request when Redis is down: fail fast, the caller falls back.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed sign-ins are counted per username and per address (browser login and the API's token
# endpoint alike); the limit locks that username or address for the cool-off (bpo_portfolio.security).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "bpo_portfolio.security.lockout_response"
AXES_VERBOSE = False
# Sessions end after two weeks (SESSION_COOKIE_AGE, seconds).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- REST API -------------------------------------------------------------------------------
# API tokens (accounts.services): kept hashed, named, several per user, each with an expiry.
API_TOKENS = {
    "DEFAULT_DAYS": env.int("API_TOKEN_DEFAULT_DAYS", default=90),
    "MAX_DAYS": env.int("API_TOKEN_MAX_DAYS", default=365),
    "MAX_PER_USER": env.int("API_TOKEN_MAX_PER_USER", default=20),
    "ALLOW_NEVER_EXPIRES": env.bool("API_TOKEN_ALLOW_NEVER_EXPIRES", default=False),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenOrBearerAuthentication",  # `Token <key>` or `Bearer <key>`
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.PortfolioAutoSchema",
    # One JSON error shape (api.errors); JSON in and out; bodies capped (413 beyond).
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": ["api.policies.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Scoped rates, counted in the default cache (Redis when REDIS_URL is set): issuing tokens,
    # bulk upserts, sync reads (lists with ?sync= or ?updated_since=), everything else.
    "DEFAULT_THROTTLE_CLASSES": ["api.policies.PortfolioThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "token": env.str("API_THROTTLE_TOKEN", default="20/min"),
        "bulk": env.str("API_THROTTLE_BULK", default="60/min"),
        "sync": env.str("API_THROTTLE_SYNC", default="1200/min"),
        "api": env.str("API_THROTTLE_API", default="6000/min"),
    },
}
# Largest request body (a bulk upsert of 1,000 records fits comfortably). One limit: Django's own
# check reads the same number, so a client never meets a smaller, undocumented one; over it the API
# answers a JSON 413 naming the limit.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

# --- Spreadsheet imports (imports app) ---------------------------------------------------------
# The largest file accepted (bytes; the API answers 413 naming it) and the most data rows a file
# may have. Rows go to the bulk engine in batches; progress is saved after each.
IMPORT_MAX_FILE_BYTES = env.int("IMPORT_MAX_FILE_BYTES", default=20 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=100_000)
IMPORT_BATCH_ROWS = env.int("IMPORT_BATCH_ROWS", default=1000)
# Row outcomes kept for the dry-run table, and per-cell errors kept; the counts and the
# rejected-rows file always cover every row.
IMPORT_ROW_RESULTS_SHOWN = 2000
IMPORT_ERRORS_KEPT = 10_000
SPECTACULAR_SETTINGS = {
    "TITLE": "BPO Innovation Portfolio API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "DESCRIPTION": (
        "Keep a copy of the innovation portfolio in step: token auth, scoped access, incremental sync "
        "with cursors (`next_sync`), optimistic concurrency (`ETag` / `If-Match`), idempotent bulk "
        "upserts by `external_id`. Every error has one JSON shape (`Error`). See docs/api.md. "
        "[Back to the portfolio](/) · [Your API tokens](/account/tokens/)"
    ),
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.responses_list_every_field",
        "api.schema.nullable_references_strict",
    ],
    # Request bodies get their own components: related records are named by id or external_id.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ProjectStageEnum": "projects.models.InnovationProject.Stage",
        "ProjectLevelEnum": "projects.models.InnovationProject.Level",
        "OriginatorEnum": "projects.models.InnovationProject.Originator",
        "FundingEnum": "projects.models.InnovationProject.Funding",
        "OrganizationKindEnum": "projects.models.Organization.Kind",
        "RelationshipStatusEnum": "projects.models.Relationship.Status",
        "SignOffKindEnum": "projects.models.SignOff.Kind",
        "SignOffStatusEnum": "projects.models.SignOff.Status",
        "KpiUnitEnum": "kpis.models.Unit",
        "KpiDirectionEnum": "kpis.models.KPI.Direction",
        "ScoreTierEnum": "kpis.models.Tier",
        "ImportStatusEnum": "imports.models.ImportJob.Status",
        "ImportModeEnum": "imports.models.ImportJob.Mode",
    },
}

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
# Production serves what `collectstatic` gathered; development (and tests) serve straight from the
# finders through WhiteNoise, so pages are styled even with DEBUG off and nothing collected.
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles") if IS_PRODUCTION else None
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = not IS_PRODUCTION
# Front-end libraries come from npm (package.json + package-lock.json, `npm ci`) and are served
# straight out of node_modules under a prefix; nothing third-party is copied into the repo.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/pico", NODE_MODULES / "@picocss" / "pico" / "css"),
    ("vendor/chartjs", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Production hardening -------------------------------------------------------------------
# `manage.py check --deploy` passes with DJANGO_ENV=production and the defaults below; each can be
# turned off where a proxy already does it (see the README's configuration table).
if IS_PRODUCTION:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Health checks come from inside the network, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^health/$"]
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)

# --- Logging --------------------------------------------------------------------------------
# JSON lines in production (one object per record, for the log pipeline), readable text in
# development; both carry the request id (bpo_portfolio.observability).
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="json" if IS_PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "bpo_portfolio.observability.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # WeasyPrint reports every rendering step at INFO (ten lines a QBR pack); its warnings still show.
    "loggers": {"weasyprint": {"level": "WARNING"}, "fontTools": {"level": "WARNING"}},
}

# --- Browser security headers ----------------------------------------------------------------
# Scripts only from this site (no inline script anywhere: chart data travels in json_script blocks,
# the API docs load their start-up script as a file); styles may be inline (a few style attributes,
# htmx's indicator style). Frames, plugins and foreign form targets are refused.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Browser features the product never uses, switched off for every page.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"

# --- Metrics (bpo_portfolio.metrics) ---------------------------------------------------------
# /metrics answers a bearer token when METRICS_TOKEN is set, else only these networks.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])
PROMETHEUS_EXPORT_MIGRATIONS = False

# --- Error reporting (optional) -------------------------------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    from bpo_portfolio.observability import scrub_event

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=DJANGO_ENV,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        before_send=scrub_event,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# --- Scoring (DESIGN.md §4) -----------------------------------------------------------------
# The one place where weights, caps and cut-offs live. Values are strings so they become exact
# Decimals in kpis.scoring.
# The workflow's tunables: after how many days in an open stage a project shows as stuck on its
# account manager's "My work" page (a stage's days run from its date, e.g. started_on, or from
# the stage change; see projects.selectors.stage_entered_on).
BPO_WORKFLOW = {
    "STUCK_AFTER_DAYS": {"idea": 90, "proposed": 60, "approved": 45, "in_progress": 180},
}

BPO_SCORING = {
    "WEIGHTS": {"impact": "0.4", "attainment": "0.2", "realisation": "0.2", "continuity": "0.2"},
    "LEVEL_WEIGHTS": {"operational": 1, "process": 2, "strategic": 3},
    # A KPI's improvement counts towards a project's impact capped to ±100 %.
    "IMPROVEMENT_CAP_PCT": "100",
    # Impact of 0 % or worse maps to 0, of IMPACT_FULL_PCT or better to 1, linear between.
    "IMPACT_FULL_PCT": "50",
    "WINDOW_MONTHS": 12,
    "QUARTERS": 4,
    "TIERS": [("high_performing", "70"), ("steady", "40"), ("at_risk", "0")],
    # A delivered project with no realised benefit recorded is left out of realisation while it was
    # delivered after the last day of month M − REALISATION_GRACE_MONTHS (it has had no time to
    # realise anything); after that a missing realised benefit counts as 0.
    "REALISATION_GRACE_MONTHS": 6,
    # A relationship whose contract began after the last day of month M − NEW_RELATIONSHIP_MONTHS
    # (under this many months before the month's end) and that has delivered nothing yet is
    # "new — not scored yet" rather than 0 at risk.
    "NEW_RELATIONSHIP_MONTHS": 3,
}

# --- Two sides at the table (collab; docs/collaboration.md) ---------------------------------
BPO_COLLAB = {
    # A comment's author may correct its text for this long after posting; deleting has no limit.
    "COMMENT_EDIT_MINUTES": 15,
    # A contest left unresolved this many business days (Monday to Friday) goes to the executives.
    "CONTEST_ESCALATION_BUSINESS_DAYS": 10,
    # The pulse's anonymity: no figure of a side below this many answers, no free text below that.
    "PULSE_MIN_RESPONSES": 3,
    "PULSE_MIN_RESPONSES_FOR_COMMENTS": 5,
    # The trust index (0–100) and its "healthy middle": below LOW is low; from UNCRITICAL with no
    # answer under UNCRITICAL_MIN_ANSWER and no figure contested in PROBLEMS_MONTHS, uncritical.
    "TRUST_LOW_BELOW": "50",
    "TRUST_UNCRITICAL_FROM": "85",
    "TRUST_UNCRITICAL_MIN_ANSWER": 4,
    "TRUST_PROBLEMS_MONTHS": 12,
    # Recognition counts the deliveries of this many months.
    "RECOGNITION_MONTHS": 12,
}

# Peer benchmarks (kpis.benchmarks): no benchmark is shown for a cohort smaller than this, so no
# peer can be singled out; a filter (the client's industry) that would leave, or split off, a
# smaller group is refused.
BPO_BENCHMARK = {
    "MIN_RELATIONSHIPS": env.int("BPO_BENCHMARK_MIN_RELATIONSHIPS", default=5),
    "MIN_CLIENTS": env.int("BPO_BENCHMARK_MIN_CLIENTS", default=3),
}

# Quarterly business review packs (reviews): an open project whose stage has not changed for
# longer than STUCK_DAYS at the quarter's end is listed as stuck.
BPO_QBR = {
    "STUCK_DAYS": env.int("BPO_QBR_STUCK_DAYS", default=90),
}

# --- Score roll-ups (kpis.rollup, kpis.tasks) -----------------------------------------------
BPO_SCORE_ROLLUP = {
    # Relationships rolled up per transaction: bounds memory and lock count; queries per batch are
    # fixed, so a full roll-up of up to this many relationships costs the same number of queries.
    "BATCH_SIZE": env.int("BPO_SCORE_ROLLUP_BATCH_SIZE", default=1000),
    # Relationships per task when the monthly roll-up fans out over the workers (kpis.tasks): small
    # enough that a few workers share a large portfolio evenly, large enough that the fixed queries
    # of a batch stay a small part of it.
    "FANOUT_BATCH_SIZE": env.int("BPO_SCORE_FANOUT_BATCH_SIZE", default=500),
    # How long a roll-up waits for another roll-up of the same relationship before retrying.
    "LOCK_TIMEOUT_SECONDS": 60,
    # A change's recompute runs this long after its commit; changes in between ride along with it.
    "RECOMPUTE_DELAY_SECONDS": env.float("BPO_SCORE_RECOMPUTE_DELAY", default=2.0),
    # How long "a recompute is queued" is remembered (it is forgotten as soon as the task starts).
    "QUEUED_TTL_SECONDS": 300,
    # Stale marks older than this are caught up by the periodic job (the broker lost the message,
    # or was down when the change was saved).
    "STALE_GRACE_SECONDS": env.float("BPO_SCORE_STALE_GRACE_SECONDS", default=120.0),
}
# Late acknowledgement plus a worker killed mid-task: the message goes back to the queue and the
# task (idempotent) runs again; a task still running when the connection drops is cancelled so the
# redelivered copy does not run beside it.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# --- Events out (outbox, webhooks, notifications) ---------------------------------------------
OUTBOX = {
    # Events older than this are deleted once every consumer has passed them and no webhook
    # delivery still needs them (outbox.tasks.prune_events, nightly).
    "RETENTION_DAYS": env.int("OUTBOX_RETENTION_DAYS", default=30),
    # Events numbered, or fed to a consumer, per transaction.
    "BATCH_SIZE": 1000,
    # How long "a relay is queued" is remembered (forgotten as soon as the relay starts).
    "RELAY_QUEUED_TTL_SECONDS": 60,
}

# Where links in webhooks and e-mails point (the address people and systems reach the app at).
SITE_URL = env.str("DJANGO_SITE_URL", default="http://127.0.0.1:8000")

WEBHOOKS = {
    # SSRF protection (webhooks.ssrf): production sends only to https URLs on public addresses.
    "ALLOW_PRIVATE": env.bool("WEBHOOKS_ALLOW_PRIVATE", default=False),
    "ALLOW_LOOPBACK": env.bool("WEBHOOKS_ALLOW_LOOPBACK", default=not IS_PRODUCTION),
    "REQUIRE_HTTPS": env.bool("WEBHOOKS_REQUIRE_HTTPS", default=IS_PRODUCTION),
    "TIMEOUT_SECONDS": 10.0,
    # Multiplies every wait of the retry schedule (and the five days that disable an endpoint);
    # tests compress it, e.g. 0.001.
    "RETRY_SCALE": env.float("WEBHOOKS_RETRY_SCALE", default=1.0),
    # How long one worker holds an endpoint (renewed before every attempt; a killed worker's
    # lease runs out and the sweep hands the endpoint to another).
    "LEASE_SECONDS": env.float("WEBHOOKS_LEASE_SECONDS", default=60.0),
    # Retries further away than this are left to the sweep instead of a delayed Celery message.
    "LONGEST_COUNTDOWN_SECONDS": 600.0,
}

# Reminders (notifications.reminders), swept daily; each closes itself when its cause is resolved.
REMINDERS = {
    # A delivered project with no measurement dated after its delivery, this many days on.
    "MEASUREMENT_DUE_DAYS": env.int("REMINDER_MEASUREMENT_DUE_DAYS", default=90),
    # A project in one open stage for longer than this.
    "STUCK_IN_STAGE_DAYS": env.int("REMINDER_STUCK_IN_STAGE_DAYS", default=120),
    # No delivery yet this quarter, with this many days or fewer of it left.
    "CONTINUITY_WARN_DAYS_BEFORE_QUARTER_END": env.int("REMINDER_CONTINUITY_DAYS", default=45),
    # A leadership pair whose recorded term ends within this many days.
    "LEADERSHIP_TERM_DAYS": env.int("REMINDER_LEADERSHIP_TERM_DAYS", default=30),
}

# E-mail (the daily digests): printed to the console unless an SMTP host is configured.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="BPO Innovation Portfolio <portfolio@localhost>")

CELERY_BEAT_SCHEDULE = {
    "sweep-reminders": {
        "task": "notifications.tasks.sweep_reminders",
        "schedule": crontab(hour=5, minute=0),
    },
    # Each person's digest goes at their chosen hour in their time zone: checked every hour.
    "send-digests": {
        "task": "notifications.tasks.send_digests",
        "schedule": crontab(minute=5),
    },
    # Deliveries due whose message was lost, retries due after a long wait, endpoints whose
    # worker died mid-delivery.
    "sweep-webhook-deliveries": {
        "task": "webhooks.tasks.sweep",
        "schedule": 30.0,
    },
    # Events whose relay message was lost (broker down at commit, worker killed): numbered and
    # passed on within the minute.
    "relay-outbox-events": {
        "task": "outbox.tasks.relay_events",
        "schedule": 30.0,
    },
    "prune-outbox-events": {
        "task": "outbox.tasks.prune_events",
        "schedule": crontab(hour=3, minute=30),
    },
    # Every relationship's current month, nightly (and, on the 1st, the month that just ended).
    "nightly-score-rollup": {
        "task": "kpis.tasks.rollup_current_month",
        "schedule": crontab(hour=2, minute=15),
    },
    # Every active relationship's QBR pack of the quarter that just ended, stored with its checksum:
    # on the first day of each quarter, after the nightly roll-up has closed the quarter's last month.
    "quarterly-review-packs": {
        "task": "reviews.tasks.generate_quarter_packs",
        "schedule": crontab(hour=4, minute=0, day_of_month=1, month_of_year="1,4,7,10"),
    },
    # Relationships marked stale whose recompute never ran.
    "catch-up-stale-scores": {
        "task": "kpis.tasks.catch_up_stale_scores",
        "schedule": dt.timedelta(seconds=env.float("BPO_SCORE_CATCH_UP_SECONDS", default=300.0)),
    },
    # Contests unresolved for 10 business days go to the relationship's executives (each once).
    "escalate-overdue-contests": {
        "task": "collab.tasks.escalate_overdue_contests",
        "schedule": crontab(hour=6, minute=30),
    },
}
