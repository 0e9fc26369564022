def test_gateway_health_lists_every_instance_up(system, anonymous):
    answer = anonymous.get("/health")
    assert answer.status_code == 200
    pools = answer.json()["pools"]
    assert [len(pools[p]) for p in ("auth", "users", "timeline", "messages")] == [1, 3, 3, 1]
    assert all(i["up"] for instances in pools.values() for i in instances)
