from django.urls import path

from kpis.views import dashboards, project_pages

urlpatterns: list = []

# The executive dashboards; the portfolio dashboard is the home page.
urlpatterns += [
    path("", dashboards.portfolio, name="home"),
    path("relationships/<int:pk>/dashboard/", dashboards.relationship, name="relationship-dashboard"),
]

# Relationships and projects shown with their KPIs and scores, and the project page's inline edits.
urlpatterns += [
    path("relationships/", project_pages.relationship_list, name="relationship-list"),
    path("relationships/<int:pk>/", project_pages.relationship_detail, name="relationship-detail"),
    path("projects/", project_pages.project_list, name="project-list"),
    path("projects/export.csv", project_pages.project_export, name="project-export"),
    path("projects/<int:pk>/", project_pages.project_detail, name="project-detail"),
    path("projects/<int:pk>/kpis/", project_pages.project_kpi_add, name="project-kpi-add"),
    path("projects/<int:pk>/kpis/<int:kpi_pk>/", project_pages.project_kpi_edit, name="project-kpi-edit"),
    path(
        "projects/<int:pk>/kpis/<int:kpi_pk>/delete/",
        project_pages.project_kpi_delete,
        name="project-kpi-delete",
    ),
    path("projects/<int:pk>/measurements/", project_pages.measurement_record, name="measurement-record"),
    path(
        "projects/<int:pk>/measurements/<int:measurement_pk>/",
        project_pages.measurement_edit,
        name="measurement-edit",
    ),
    path(
        "projects/<int:pk>/measurements/<int:measurement_pk>/delete/",
        project_pages.measurement_delete,
        name="measurement-delete",
    ),
]
