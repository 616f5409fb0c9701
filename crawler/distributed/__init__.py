"""The distributed mode: many ``heed crawl`` processes share one job on Redis.

docs/distributed.md describes the job model. The pieces, each behind the interface its
embedded counterpart implements:

- ``connection``: the job's Redis client and key names, and :class:`RedisUnavailable` (a lost
  connection is a fatal error, never an "allow");
- ``queue`` and ``scheduler``: scrapy-redis's scheduler with a host-aware queue of leased
  pops; a dead worker's leases return to the queue (``reaper``);
- ``ledger``: the job's seen-set, done-set and ``max_pages`` budget (``RedisLedger``);
- ``signals``: each origin's documents fetched once for the whole job (``RedisSignalState``);
- ``politeness``: per-host Crawl-delay and concurrency across workers (``RedisPoliteness``);
- ``settings``: the Scrapy settings of the mode (:func:`redis_settings`).

Nothing is imported here, so ``crawler.distributed.workers`` needs no Redis client.
"""
