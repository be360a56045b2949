"""The SQL store passes the shipped conformance suite on SQLite and on PostgreSQL."""

from runyard.testing.tracking_store import TrackingStoreSuite


class TestSqlTrackingStore(TrackingStoreSuite):
    __test__ = True
