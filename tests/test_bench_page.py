"""The HTML page of `synthrec bench`: arm styles, the worth legend and the per-section test statement."""

from __future__ import annotations

import matplotlib.pyplot as plt
import polars as pl

from synthrec.experiments.bench.page import arm_styles, learning_curve_plot, render_page
from synthrec.experiments.bench.stats import summarise
from synthrec.experiments.bench.store import rows_frame


def _key(style: dict) -> tuple[str, str, str]:
    return style["color"], style["linestyle"], style["marker"]


def test_arm_styles_are_distinct_beyond_ten_and_order_free() -> None:
    arms = [f"augment x{i} [source] g" for i in range(30)] + ["real-only", "ceiling"]
    styles = arm_styles(arms)
    assert len({_key(s) for s in styles.values()}) == 32
    assert arm_styles(list(reversed(arms))) == styles  # by name, not by order of appearance
    assert _key(styles["real-only"]) == ("black", "-", "o") and styles["real-only"]["linewidth"] > 2
    assert styles["ceiling"]["linestyle"] == "--"
    # the first 18 non-reference arms all have different colours, none black or the ceiling's grey
    firsts = sorted(a for a in arms if a not in ("real-only", "ceiling"))[:18]
    colours = {styles[a]["color"] for a in firsts}
    assert len(colours) == 18 and not colours & {"black", styles["ceiling"]["color"]}
    # 252 arms: all distinct (lcm of 18 colours, 4 line styles, 7 markers)
    many = arm_styles([f"a{i:03d}" for i in range(252)])
    assert len({_key(s) for s in many.values()}) == 252


def _table(n_arms: int, seeds: int = 3) -> pl.DataFrame:
    rows = []
    for level, users in ((0.1, 10), (1.0, 100)):
        for s in range(seeds):
            for rec in ("ease", "pop"):
                base = (0.1 if level < 1 else 0.2) + 0.01 * s + (0.0 if rec == "ease" else -0.05)
                arms = [("real-only", "real-only", base), ("ceiling", "ceiling", base + 0.1)]
                # arm i: below real-only for even i, above for odd i, spread over seeds
                arms += [("augment", f"augment x{i} [source] g", base + (0.001 * (i + 1) + 0.0005 * s) * (-1) ** (i + 1))
                         for i in range(n_arms)]
                for strategy, arm, v in arms:
                    rows.append({"cell_id": f"{level}-{s}-{rec}-{arm}", "dataset": "d", "split": "leave-last-out",
                                 "level": f"users={level:g}", "level_kind": "users", "users_fraction": level,
                                 "seed": s, "strategy": strategy, "source": "source", "generator": "g", "arm": arm,
                                 "recommender": rec, "metric": "NDCG@10", "group": "all", "value": v,
                                 "n_users": 50, "n_train_users": users, "status": "ok"})
    return rows_frame(rows)


def test_learning_curves_style_every_arm_alike_in_every_panel() -> None:
    summ = summarise(_table(12))
    fig = learning_curve_plot(summ, "d", "leave-last-out")
    assert fig is not None
    try:
        panels = [{ln.get_label(): (ln.get_color(), ln.get_linestyle(), ln.get_marker()) for ln in ax.get_lines()}
                  for ax in fig.axes if ax.get_lines()]
        assert len(panels) == 2 and panels[0] == panels[1]
        assert len(panels[0]) == 14 and len(set(panels[0].values())) == 14  # 12 arms + real-only + ceiling
    finally:
        plt.close(fig)


def test_page_states_the_test_and_explains_worth() -> None:
    html = render_page(_table(3, seeds=4), title="t")
    assert "Seeds: 4 (pairs per comparison: 4)" in html
    assert "paired t-test" in html and "2/2<sup>n</sup>" in html
    assert "A negative worth</b> means the arm scored below what real-only reaches" in html
    assert "below-curve" in html and "above-curve" in html
    # the ceiling beats real-only at every level by 0.1: worth more than the largest level's users
    assert "&gt; 100" in html or "> 100" in html
    # the even arms are below real-only with their own users: a negative worth, marked as a loss
    assert 'class="loss">-' in html or 'class="loss">≤ -' in html


def test_worth_cells_show_the_bound_next_to_the_number() -> None:
    from synthrec.experiments.bench.page import _worth_row
    from synthrec.experiments.bench.stats import worth_table

    def srow(strategy: str, users: float, mean: float) -> dict:
        return {"dataset": "d", "split": "s", "level": f"u{users:g}", "level_kind": "users", "strategy": strategy,
                "arm": strategy, "recommender": "ease", "metric": "NDCG@10", "group": "all",
                "n_train_users": users, "mean": mean}

    # real-only: 10 users -> 0.1, 100 -> 0.2
    summ = pl.DataFrame([srow("real-only", 10, 0.1), srow("real-only", 100, 0.2), srow("augment", 100, 0.15),
                         srow("synthetic-only", 100, 0.05), srow("pretrain-finetune", 10, 0.3), srow("auto", 10, 0.1)])
    cells = {r["arm"]: _worth_row(r) for r in worth_table(summ).to_dicts()}
    # interpolated: √1000 = 31.6 users needed, worth 31.6 - 100 = -68 (a loss)
    assert (cells["augment"]["equivalent_users"], cells["augment"]["worth_users"], cells["augment"]["cls"]) == \
        ("32", "-68", "loss")
    # below the curve: at most 10 users, worth at most -90
    assert (cells["synthetic-only"]["equivalent_users"], cells["synthetic-only"]["worth_users"]) == ("≤ 10", "≤ -90")
    # above the curve: more than 100 users, worth more than +90
    assert (cells["pretrain-finetune"]["equivalent_users"], cells["pretrain-finetune"]["worth_users"],
            cells["pretrain-finetune"]["cls"]) == ("> 100", "> +90", "")
    # on the smallest level exactly: at most 10 users, worth at most 0 (no sign on zero, not a loss)
    assert (cells["auto"]["worth_users"], cells["auto"]["cls"]) == ("≤ 0", "")
