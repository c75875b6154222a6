from django.urls import path

from kpis.views import dashboards

urlpatterns: list = [
    path("", dashboards.portfolio, name="home"),
    path("relationships/<int:pk>/dashboard/", dashboards.relationship, name="relationship-dashboard"),
]
