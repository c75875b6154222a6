from django.urls import path

from projects import views

urlpatterns = [
    path("relationships/", views.relationship_list, name="relationship-list"),
    path("relationships/<int:pk>/", views.relationship_detail, name="relationship-detail"),
    path("projects/", views.project_list, name="project-list"),
]
