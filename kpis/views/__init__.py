"""Pages that show projects and KPIs together (project pages, dashboards); kpis may import projects."""
