"""Every page of the browser layer: dashboards, lists, the relationship and project pages, and the
forms and inline edits behind them."""

from django.urls import path

from web.views import (
    account,
    board,
    collab,
    dashboards,
    imports,
    my_work,
    notifications,
    pickers,
    project_edit,
    project_kpis,
    project_list,
    project_page,
    relationships,
    reviews,
    saved_filters,
    signoffs,
    webhooks,
)

urlpatterns = [
    # The executive dashboards; the portfolio dashboard is the home page.
    path("", dashboards.portfolio, name="home"),
    path("relationships/<int:pk>/dashboard/", dashboards.relationship, name="relationship-dashboard"),
    # The quarterly business review pack (PDF).
    path("relationships/<int:pk>/qbr/", reviews.qbr_pack, name="relationship-qbr"),
    # Suggestions for the searchable filters of the lists (JSON, in the user's scope).
    path("suggest/<slug:kind>/", pickers.suggest, name="suggest"),
    # The signed-in person's work: what needs attention, and their saved filters.
    path("my-work/", my_work.my_work, name="my-work"),
    path("projects/saved-filters/", saved_filters.saved_filter_save, name="saved-filter-save"),
    path(
        "projects/saved-filters/<int:pk>/delete/",
        saved_filters.saved_filter_delete,
        name="saved-filter-delete",
    ),
    # The signed-in person's API tokens.
    path("account/tokens/", account.api_tokens, name="api-tokens"),
    path("account/tokens/<int:pk>/revoke/", account.api_token_revoke, name="api-token-revoke"),
    # The notification centre.
    path("notifications/", notifications.notification_list, name="notification-list"),
    path("notifications/badge/", notifications.notification_badge, name="notification-badge"),
    path("notifications/read/", notifications.notification_mark_read, name="notification-mark-read"),
    path(
        "notifications/preferences/", notifications.notification_preferences, name="notification-preferences"
    ),
    path("notifications/<int:pk>/", notifications.notification_open, name="notification-open"),
    # Spreadsheet imports: upload and history, each import's page (dry run, confirm, progress).
    path("imports/", imports.import_list, name="import-list"),
    path("imports/<int:pk>/", imports.import_detail, name="import-detail"),
    path("imports/<int:pk>/confirm/", imports.import_confirm, name="import-confirm"),
    path("imports/<int:pk>/rejected.csv", imports.import_rejected_csv, name="import-rejected-csv"),
    path("imports/templates/<slug:record_type>.csv", imports.import_template, name="import-template"),
    # Webhook endpoints and their delivery logs.
    path("webhooks/", webhooks.endpoint_list, name="webhook-list"),
    path("webhooks/<int:pk>/", webhooks.endpoint_detail, name="webhook-detail"),
    path("webhooks/<int:pk>/toggle/", webhooks.endpoint_toggle, name="webhook-toggle"),
    path("webhooks/<int:pk>/rotate/", webhooks.endpoint_rotate, name="webhook-rotate"),
    path("webhooks/<int:pk>/test/", webhooks.endpoint_test, name="webhook-test"),
    path("webhooks/<int:pk>/replay/", webhooks.endpoint_replay, name="webhook-replay"),
    path("webhooks/<int:pk>/delete/", webhooks.endpoint_delete, name="webhook-delete"),
    # Relationships.
    path("relationships/", relationships.relationship_list, name="relationship-list"),
    path("relationships/<int:pk>/", relationships.relationship_detail, name="relationship-detail"),
    path(
        "relationships/<int:pk>/leadership/",
        project_edit.relationship_leadership,
        name="relationship-leadership",
    ),
    path(
        "relationships/<int:pk>/sign-off/",
        signoffs.relationship_signoff_setting,
        name="relationship-signoff",
    ),
    # Projects: list, export, page, forms.
    path("projects/", project_list.project_list, name="project-list"),
    path("projects/export.csv", project_list.project_export, name="project-export"),
    path("projects/export.xlsx", project_list.project_export_xlsx, name="project-export-xlsx"),
    path("projects/board/", board.project_board, name="project-board"),
    path("projects/new/", project_edit.project_create, name="project-create"),
    path("projects/<int:pk>/", project_page.project_detail, name="project-detail"),
    path("projects/<int:pk>/edit/", project_edit.project_edit, name="project-edit"),
    path("projects/<int:pk>/stage/", project_edit.project_transition, name="project-transition"),
    path("projects/<int:pk>/delete/", project_edit.project_delete, name="project-delete"),
    # Client sign-off of a project's approval or realised benefit.
    path("projects/<int:pk>/sign-offs/benefit/", signoffs.signoff_request_benefit, name="signoff-benefit"),
    path(
        "projects/<int:pk>/sign-offs/<int:signoff_pk>/decide/",
        signoffs.signoff_decide,
        name="signoff-decide",
    ),
    path(
        "projects/<int:pk>/sign-offs/<int:signoff_pk>/withdraw/",
        signoffs.signoff_withdraw,
        name="signoff-withdraw",
    ),
    # The project page's inline edits of KPIs and measurements (htmx).
    path("projects/<int:pk>/kpis/", project_kpis.project_kpi_add, name="project-kpi-add"),
    path("projects/<int:pk>/kpis/<int:kpi_pk>/", project_kpis.project_kpi_edit, name="project-kpi-edit"),
    path(
        "projects/<int:pk>/kpis/<int:kpi_pk>/delete/",
        project_kpis.project_kpi_delete,
        name="project-kpi-delete",
    ),
    path("projects/<int:pk>/measurements/", project_kpis.measurement_record, name="measurement-record"),
    path(
        "projects/<int:pk>/measurements/<int:measurement_pk>/",
        project_kpis.measurement_edit,
        name="measurement-edit",
    ),
    path(
        "projects/<int:pk>/measurements/<int:measurement_pk>/delete/",
        project_kpis.measurement_delete,
        name="measurement-delete",
    ),
    # Discussions: comments on a project or on a month's score, their edits and deletions.
    path("projects/<int:pk>/comments/", collab.project_comment, name="project-comment"),
    path(
        "relationships/<int:pk>/scores/<str:month>/comments/",
        collab.score_comment,
        name="score-comment",
    ),
    path("comments/<int:pk>/edit/", collab.comment_edit, name="comment-edit"),
    path("comments/<int:pk>/delete/", collab.comment_delete, name="comment-delete"),
    path("relationships/<int:pk>/discussion.csv", collab.discussion_export, name="discussion-export"),
    # Contested figures: raise one, its page and its steps, a relationship's contests.
    path("contests/new/", collab.contest_new, name="contest-new"),
    path("contests/<int:pk>/", collab.contest_detail, name="contest-detail"),
    path("contests/<int:pk>/answer/", collab.contest_answer, name="contest-answer"),
    path("contests/<int:pk>/resolve/", collab.contest_resolve, name="contest-resolve"),
    path("contests/<int:pk>/withdraw/", collab.contest_withdraw, name="contest-withdraw"),
    path("relationships/<int:pk>/contests/", collab.relationship_contests, name="relationship-contests"),
    # The quarterly relationship pulse: one's own answers, and the published results.
    path("relationships/<int:pk>/pulse/", collab.relationship_pulse, name="relationship-pulse"),
    # Recognition: the people named on a project, a person's page of contributions.
    path("projects/<int:pk>/contributors/", collab.contributor_add, name="contributor-add"),
    path("contributors/<int:pk>/remove/", collab.contributor_remove, name="contributor-remove"),
    path("people/me/", collab.person_contributions, name="my-contributions"),
    path("people/<int:pk>/", collab.person_contributions, name="person-contributions"),
]
