"""Never-written iCE40 block RAMs get their read clock as write clock."""

import json

from boards.netlist_fixups import tie_unused_write_clocks


def _ram(kind="SB_RAM40_4K", wclk=("0",), wclke=("0",), we=("1",), rclk=(9,)):
    clock = "WCLKN" if kind.endswith("NW") else "WCLK"
    read = "RCLKN" if "NR" in kind else "RCLK"
    return {"type": kind, "connections": {clock: list(wclk), "WCLKE": list(wclke),
                                          "WE": list(we), read: list(rclk)}}


def test_only_constant_clocked_never_written_rams_change(tmp_path):
    cells = {
        "rom": _ram(),
        "rom_we_off": _ram(wclke=(5,), we=("0",)),
        "rom_negedge": _ram(kind="SB_RAM40_4KNRNW", rclk=(4,)),
        "ram": _ram(wclk=(9,), wclke=(7,), we=(8,)),          # written: untouched
        "odd": _ram(wclke=(7,), we=(8,)),                    # constant clock but enabled
        "lut": {"type": "SB_LUT4", "connections": {"I0": ["0"]}},
    }
    path = tmp_path / "top.json"
    path.write_text(json.dumps({"modules": {"top": {"cells": cells}}}))
    changed = tie_unused_write_clocks(path)
    assert sorted(changed) == ["rom", "rom_negedge", "rom_we_off"]
    after = json.loads(path.read_text())["modules"]["top"]["cells"]
    assert after["rom"]["connections"]["WCLK"] == [9]
    assert after["rom_negedge"]["connections"]["WCLKN"] == [4]
    assert after["ram"] == cells["ram"] and after["odd"] == cells["odd"]
    assert after["lut"] == cells["lut"]
    assert not list(tmp_path.glob("*.tmp"))


def test_a_netlist_with_nothing_to_change_is_left_byte_identical(tmp_path):
    path = tmp_path / "top.json"
    text = json.dumps({"modules": {"top": {"cells": {"ram": _ram(wclk=(9,), wclke=(7,))}}}},
                      indent=3)
    path.write_text(text)
    assert tie_unused_write_clocks(path) == []
    assert path.read_text() == text
