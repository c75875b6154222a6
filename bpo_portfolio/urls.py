"""Top-level routes: pages, the admin, sign-in, and a health check for the load balancer."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_GET


@require_GET
def health(request):
    """Liveness and database reachability, for compose and load-balancer health checks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


admin.site.site_header = "BPO Innovation Portfolio — administration"
admin.site.site_title = "BPO Innovation Portfolio"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/", health, name="health"),
    path("api/", include("api.urls")),
    path("", include("web.urls")),
]
