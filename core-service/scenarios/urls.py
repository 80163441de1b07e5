"""Scenario routes (/api/v1/...). `hot` are the most read paths: config/urls.py puts them first."""

from django.urls import path

from common.fastget import fast_get
from scenarios import apis, search_api

hot = [
    path("scenarios", fast_get(apis.ScenarioListCreateApi)),
    path("scenarios/search", fast_get(search_api.ScenarioSearchApi)),
    path("scenarios/<uuid:scenario_id>", fast_get(apis.ScenarioDetailApi)),
]

urlpatterns = [
    path("scenarios/<uuid:scenario_id>/fork", apis.ScenarioForkApi.as_view()),
    path("scenarios/<uuid:scenario_id>/forks", apis.ScenarioForksApi.as_view()),
    path("scenarios/<uuid:scenario_id>/fork-tree", apis.ScenarioForkTreeApi.as_view()),
    path("scenarios/<uuid:scenario_id>/ancestors", apis.ScenarioAncestorsApi.as_view()),
    path("scenarios/<uuid:scenario_id>/timeline", apis.ScenarioTimelineApi.as_view()),
]
