"""Top-level routes: pages, the admin, sign-in, the API, and liveness and readiness checks."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from bpo_portfolio import health, metrics

admin.site.site_header = "BPO Innovation Portfolio — administration"
admin.site.site_title = "BPO Innovation Portfolio"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    # The older readiness path, kept for existing compose files and load balancers.
    path("health/", health.readyz, name="health"),
    path("api/", include("api.urls")),
    path("", include("web.urls")),
]
