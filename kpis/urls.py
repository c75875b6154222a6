from django.urls import path  # noqa: F401 - routes are added by the page modules in kpis/views/

urlpatterns: list = []
