from django.urls import path

from projects import views

# The pages that show relationships and projects with their KPIs and scores (the lists, the
# relationship and project pages) are routed in kpis.urls.
urlpatterns = [
    path("relationships/<int:pk>/leadership/", views.relationship_leadership, name="relationship-leadership"),
    path("projects/new/", views.project_create, name="project-create"),
    path("projects/<int:pk>/edit/", views.project_edit, name="project-edit"),
    path("projects/<int:pk>/stage/", views.project_transition, name="project-transition"),
    path("projects/<int:pk>/delete/", views.project_delete, name="project-delete"),
]
