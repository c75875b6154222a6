"""The REST API: `/api/v1/` resources, token issue, the OpenAPI schema and interactive docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from api import collab, views
from api.auth import TokenDetailView, TokenListView, TokenView
from api.imports import ImportViewSet
from api.webhooks import EndpointViewSet, EventStreamView

router = DefaultRouter()
router.register("organizations", views.OrganizationViewSet, basename="organization")
router.register("relationships", views.RelationshipViewSet, basename="relationship")
router.register("projects", views.ProjectViewSet, basename="project")
router.register("kpis", views.KPIViewSet, basename="kpi")
router.register("project-kpis", views.ProjectKPIViewSet, basename="project-kpi")
router.register("measurements", views.MeasurementViewSet, basename="measurement")
router.register("scores", views.ScoreViewSet, basename="score")
router.register("webhooks", EndpointViewSet, basename="webhook")
# Two sides at the table (docs/collaboration.md).
router.register("comments", collab.CommentViewSet, basename="comment")
router.register("contests", collab.ContestViewSet, basename="contest")
router.register("pulse-answers", collab.PulseAnswerViewSet, basename="pulse-answer")
router.register("pulse-results", collab.PulseResultViewSet, basename="pulse-result")
router.register("contributors", collab.ContributorViewSet, basename="contributor")
router.register("sign-offs", views.SignOffViewSet, basename="sign-off")
# Spreadsheet imports (dry run, confirm, progress).
router.register("imports", ImportViewSet, basename="import")

app_name = "api"

urlpatterns = [
    path("v1/auth/token/", TokenView.as_view(), name="token"),
    path("v1/auth/tokens/", TokenListView.as_view(), name="token-list"),
    path("v1/auth/tokens/<int:pk>/", TokenDetailView.as_view(), name="token-detail"),
    path("v1/events/", EventStreamView.as_view(), name="events"),
    path("v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file of its own: no inline script, so the
    # docs page works under the site's Content-Security-Policy.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("v1/", include(router.urls)),
]
