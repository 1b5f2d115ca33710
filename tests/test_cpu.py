from senticlf import cpu


def test_the_int8_preset_follows_the_instruction_sets(monkeypatch):
    monkeypatch.setattr(cpu.platform, "machine", lambda: "x86_64")
    for flags, preset in (
        ({"avx2", "avx512f", "avx512_vnni"}, "avx512_vnni"),
        ({"avx2", "avx512f"}, "avx512"),
        ({"avx2"}, "avx2"),
    ):
        monkeypatch.setattr(cpu, "cpu_flags", lambda flags=flags: flags)
        assert cpu.int8_preset() == preset
    monkeypatch.setattr(cpu.platform, "machine", lambda: "aarch64")
    assert cpu.int8_preset() == "arm64"


def test_this_machine_gets_a_known_preset_and_a_name():
    assert cpu.int8_preset() in cpu.PRESETS
    known = {"avx512_vnni", "avx_vnni", "avx512f", "avx2", "avx512_bf16", "amx_bf16", "amx_int8"}
    assert set(cpu.instruction_sets()) <= known
    assert cpu.cpu_name()
