from django.urls import path

from kpis.views import dashboards

urlpatterns: list = []

# The executive dashboards; the portfolio dashboard is the home page.
urlpatterns += [
    path("", dashboards.portfolio, name="home"),
    path("relationships/<int:pk>/dashboard/", dashboards.relationship, name="relationship-dashboard"),
]
