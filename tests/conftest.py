"""Settings every test shares."""

from hypothesis import settings

# Hypothesis' per-example deadline measures the machine, not the code: on a shared 2-core box a
# busy moment fails a correct test. Tests assert behaviour; benchmarks (bench/) measure time.
settings.register_profile("hub", deadline=None)
settings.load_profile("hub")
