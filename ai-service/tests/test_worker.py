"""The Celery app's configuration (a real worker runs in the end-to-end tests)."""

from __future__ import annotations

import os

from gaji_ai.worker import GENERATION_QUEUE, INGESTION_QUEUE, celery_app, create_celery_app

from support import build_settings


def test_broker_defaults_to_redis_url():
    app = create_celery_app(build_settings(redis_url="redis://example:6379/5"))
    assert app.conf.broker_url == "redis://example:6379/5"
    assert app.conf.result_backend == "redis://example:6379/5"


def test_explicit_broker_url_wins():
    app = create_celery_app(
        build_settings(redis_url="redis://a:6379/0", celery_broker_url="redis://b:6379/2")
    )
    assert app.conf.broker_url == "redis://b:6379/2"


def test_queues_and_routes():
    conf = celery_app.conf
    assert {queue.name for queue in conf.task_queues} == {"ingestion", "generation"}
    for queue in conf.task_queues:  # messages for one queue must never land in the other
        assert queue.exchange.name == queue.name
        assert queue.routing_key == queue.name
    assert conf.task_default_queue == GENERATION_QUEUE
    router = celery_app.amqp.router
    ingest = router.route({}, "gaji.ingestion.ingest_novel")["queue"]
    assert (ingest.name, ingest.routing_key) == (INGESTION_QUEUE, INGESTION_QUEUE)
    generate = router.route({}, "gaji.generation.generate")["queue"]
    assert (generate.name, generate.routing_key) == (GENERATION_QUEUE, GENERATION_QUEUE)
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"]


def test_module_app_uses_the_environment_redis():
    assert celery_app.conf.broker_url == os.environ["REDIS_URL"]


def test_ping_task_answers_pong():
    ping = celery_app.tasks["gaji.ping"]
    assert ping.apply().get() == "pong"


def test_worker_ignores_django_settings_in_the_environment(monkeypatch):
    """One venv holds both services: a stray DJANGO_SETTINGS_MODULE must not
    make the ai worker load core's Django settings."""
    from gaji_ai.config import get_settings
    from gaji_ai.worker import create_celery_app

    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.settings.local")
    app = create_celery_app(get_settings())
    assert not app.fixups


def test_worker_process_says_when_it_can_take_a_job(monkeypatch, caplog):
    """The parent's "ready." comes before its processes have loaded their
    models; this line comes after (the e2e stack waits for it)."""
    import logging
    import threading

    import gaji_ai.worker as worker

    monkeypatch.setattr(worker, "get_settings", lambda: build_settings(embeddings_preload=False))
    monkeypatch.setattr(worker, "_consumed_queues", {INGESTION_QUEUE})
    with caplog.at_level(logging.INFO, logger="gaji_ai.worker"):
        worker._preload_models()
        assert worker.wait_for_models(timeout=30)
        for thread in threading.enumerate():  # the line comes just after the event
            if thread.name == "gaji-model-load":
                thread.join(5)
    assert [r.getMessage().startswith("worker process ready in ") for r in caplog.records] == [True]


def test_a_new_pool_process_is_up_before_its_models_have_loaded(monkeypatch):
    """Celery kills a pool process that is not up within its alive timeout:
    the models load in the background, and a job waits for them."""
    import threading

    from gaji_ai import worker

    release = threading.Event()
    warmed = threading.Event()

    class SlowEmbedder:
        def warm(self):
            release.wait(30)  # as slow as the test wants
            warmed.set()

    monkeypatch.setattr(worker, "dense_embedder", lambda settings: SlowEmbedder())
    monkeypatch.setattr(worker, "_consumes_generation", lambda: False)
    worker._preload_models()  # returns while the model is still loading
    try:
        assert not warmed.is_set()
        assert worker.wait_for_models(timeout=0.2) is False
    finally:
        release.set()
    assert worker.wait_for_models(timeout=30) is True
    assert warmed.is_set()
    assert celery_app.conf.worker_proc_alive_timeout >= 30


def test_a_chat_worker_on_the_engine_loads_no_embedder_but_an_ingest_worker_does(monkeypatch):
    """One chat worker process per engine slot: each must stay small (no
    torch model in it); the embedder still preloads where ingestion runs."""
    from gaji_ai import worker

    from support import build_settings

    loaded: list[str] = []

    class Embedder:
        def warm(self):
            loaded.append("embedder")

    class Provider:
        def warm(self):
            loaded.append("provider")

    monkeypatch.setattr(worker, "dense_embedder", lambda settings: Embedder())
    monkeypatch.setattr(worker, "provider_for", lambda settings: Provider())
    on_engine = build_settings(llm_local_engine="server", embeddings_preload=True)
    for queues, engine_settings, expected in (
        ({"generation"}, on_engine, ["provider"]),
        ({"ingestion"}, on_engine, ["embedder"]),
        ({"generation"}, build_settings(llm_local_engine="inprocess"), ["embedder", "provider"]),
    ):
        loaded.clear()
        monkeypatch.setattr(worker, "_consumed_queues", queues)
        worker._load_models(engine_settings)
        assert loaded == expected, (queues, loaded)
