def test_register_then_login(api, db):
    body = {"email": "Reader@Example.com", "username": "reader_one", "password": "Passw0rdX"}
    created = api.post("/api/v1/auth/register", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["user"]["email"] == "reader@example.com"
    assert created["X-RateLimit-Limit"] == "3"
    logged = api.post("/api/v1/auth/login", {"email": "reader@example.com", "password": "Passw0rdX"}, format="json")
    assert logged.status_code == 200
    assert logged.json()["tokens"]["expires_in"] == 3600
