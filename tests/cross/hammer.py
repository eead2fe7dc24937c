"""Cross-language test: N checks of QUOTA through the Python package."""
import sys
import time

import ratewarden

url, client, endpoint, quota, n, start_ms = sys.argv[1:7]
lim = ratewarden.Limiter(url)
lim.ping()
time.sleep(max(0.0, int(start_ms) / 1000 - time.time()))
admitted = 0
for _ in range(int(n)):
    d = lim.check(client, endpoint, quota=quota)
    assert d.limit == 20, d
    admitted += d.allowed
print(admitted)
