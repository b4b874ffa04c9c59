"""The audio front end's cost benchmark runs in the real MicroPython VM and prints an estimate."""
from host_tools.evaluate import bench_audio


def test_bench_audio_runs_and_viper_wins():
    res = bench_audio.run(seconds=1)
    m = res["measured"]
    assert m["viper"]["frames"] == 61 and m["plain"]["frames"] == 61
    assert m["plain"]["us_per_audio_second"] > 5 * m["viper"]["us_per_audio_second"]
    assert 0 < m["viper"]["heap_held_bytes"] < 16000
    text = bench_audio.report(res)
    assert "ESTIMATE" in text and "rp2040_pico" in text and "esp32" in text
    assert bench_audio.frame_counts()["butterflies"] == 256 * 9
