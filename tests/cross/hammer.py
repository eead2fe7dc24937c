"""Cross-language test: N checks of QUOTA through the Python package."""
import sys

import ratewarden

url, client, endpoint, quota, n = sys.argv[1:6]
lim = ratewarden.Limiter(url)
admitted = 0
for _ in range(int(n)):
    d = lim.check(client, endpoint, quota=quota)
    assert d.limit == 20, d
    admitted += d.allowed
print(admitted)
