"""Pure functions from query results (tidy polars frames) to Plotly figures, shared by the pages.

No function here queries anything or reads global state: the same frame always gives the same
figure, which is what the pages' CSV downloads export.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "height": 340,
    "legend": {"orientation": "h", "y": -0.18},
}
_COLORS = ("#0ea5e9", "#6366f1", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316")

#: ISO 3166-1 alpha-2 -> alpha-3, for choropleths (``locationmode="ISO-3"``).
ISO3: Mapping[str, str] = MappingProxyType(
    {
        token[:2]: token[2:]
        for token in """
ADAND AEARE AFAFG AGATG AIAIA ALALB AMARM AOAGO AQATA ARARG ASASM ATAUT AUAUS AWABW AXALA AZAZE
BABIH BBBRB BDBGD BEBEL BFBFA BGBGR BHBHR BIBDI BJBEN BLBLM BMBMU BNBRN BOBOL BQBES BRBRA BSBHS
BTBTN BVBVT BWBWA BYBLR BZBLZ CACAN CCCCK CDCOD CFCAF CGCOG CHCHE CICIV CKCOK CLCHL CMCMR CNCHN
COCOL CRCRI CUCUB CVCPV CWCUW CXCXR CYCYP CZCZE DEDEU DJDJI DKDNK DMDMA DODOM DZDZA ECECU EEEST
EGEGY EHESH ERERI ESESP ETETH FIFIN FJFJI FKFLK FMFSM FOFRO FRFRA GAGAB GBGBR GDGRD GEGEO GFGUF
GGGGY GHGHA GIGIB GLGRL GMGMB GNGIN GPGLP GQGNQ GRGRC GSSGS GTGTM GUGUM GWGNB GYGUY HKHKG HMHMD
HNHND HRHRV HTHTI HUHUN IDIDN IEIRL ILISR IMIMN ININD IOIOT IQIRQ IRIRN ISISL ITITA JEJEY JMJAM
JOJOR JPJPN KEKEN KGKGZ KHKHM KIKIR KMCOM KNKNA KPPRK KRKOR KWKWT KYCYM KZKAZ LALAO LBLBN LCLCA
LILIE LKLKA LRLBR LSLSO LTLTU LULUX LVLVA LYLBY MAMAR MCMCO MDMDA MEMNE MFMAF MGMDG MHMHL MKMKD
MLMLI MMMMR MNMNG MOMAC MPMNP MQMTQ MRMRT MSMSR MTMLT MUMUS MVMDV MWMWI MXMEX MYMYS MZMOZ NANAM
NCNCL NENER NFNFK NGNGA NINIC NLNLD NONOR NPNPL NRNRU NUNIU NZNZL OMOMN PAPAN PEPER PFPYF PGPNG
PHPHL PKPAK PLPOL PMSPM PNPCN PRPRI PSPSE PTPRT PWPLW PYPRY QAQAT REREU ROROU RSSRB RURUS RWRWA
SASAU SBSLB SCSYC SDSDN SESWE SGSGP SHSHN SISVN SJSJM SKSVK SLSLE SMSMR SNSEN SOSOM SRSUR SSSSD
STSTP SVSLV SXSXM SYSYR SZSWZ TCTCA TDTCD TFATF TGTGO THTHA TJTJK TKTKL TLTLS TMTKM TNTUN TOTON
TRTUR TTTTO TVTUV TWTWN TZTZA UAUKR UGUGA UMUMI USUSA UYURY UZUZB VAVAT VCVCT VEVEN VGVGB VIVIR
VNVNM VUVUT WFWLF WSWSM YEYEM YTMYT ZAZAF ZMZMB ZWZWE
""".split()  # noqa: SIM905 - 249 codes read better as a block
    }
)


def _empty(title: str, message: str = "No data for these filters") -> go.Figure:
    figure = go.Figure()
    figure.update_layout(
        title=title,
        annotations=[
            {"text": message, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5}
        ],
        xaxis={"visible": False},
        yaxis={"visible": False},
        **_LAYOUT,
    )
    return figure


def bar(labels: Sequence[str], values: Sequence[float], *, title: str) -> go.Figure:
    figure = go.Figure(go.Bar(x=list(labels), y=list(values), marker_color=_COLORS[0]))
    figure.update_layout(title=title, **_LAYOUT)
    return figure


def daily_overview(daily: pl.DataFrame) -> go.Figure:
    """Active users, views and watch hours per day, one small chart each on a shared date axis."""
    if daily.is_empty():
        return _empty("")
    series = (("active_users", "Active users"), ("views", "Views"), ("watch_hours", "Watch hours"))
    figure = make_subplots(
        rows=len(series),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=[label for _, label in series],
    )
    dates = daily["event_date"].to_list()
    for row, ((column, label), color) in enumerate(zip(series, _COLORS, strict=False), start=1):
        figure.add_trace(
            go.Scatter(
                x=dates,
                y=daily[column].to_list(),
                name=label,
                mode="lines+markers",
                line={"color": color},
            ),
            row=row,
            col=1,
        )
    figure.update_layout(**{**_LAYOUT, "height": 480, "showlegend": False})
    return figure


def _series_label(row: Mapping[str, object], columns: Sequence[str]) -> str:
    return " · ".join(str(row[c]) if row[c] is not None else "(none)" for c in columns) or "all"


def lines(
    frame: pl.DataFrame,
    *,
    x: str,
    y: str,
    by: Sequence[str] = (),
    title: str,
    y_title: str | None = None,
) -> go.Figure:
    """One line per combination of the ``by`` columns (a single line without them)."""
    if frame.is_empty():
        return _empty(title)
    figure = go.Figure()
    groups = frame.partition_by(list(by), maintain_order=True, as_dict=False) if by else [frame]
    for index, group in enumerate(groups):
        ordered = group.sort(x)
        figure.add_trace(
            go.Scatter(
                x=ordered[x].to_list(),
                y=ordered[y].to_list(),
                name=_series_label(group.row(0, named=True), by) if by else y,
                mode="lines+markers",
                line={"color": _COLORS[index % len(_COLORS)]},
            )
        )
    figure.update_layout(title=title, showlegend=bool(by), **_LAYOUT)
    figure.update_yaxes(title=y_title or y)
    return figure


def funnel(
    frame: pl.DataFrame,
    *,
    breakdown: str | None,
    title: str = "Share of the first step's actors reaching each step",
) -> go.Figure:
    """Share of the first step's actors reaching each step, grouped by the breakdown."""
    if frame.is_empty():
        return _empty(title)
    figure = go.Figure()
    groups = (
        frame.partition_by(breakdown, maintain_order=True, as_dict=False) if breakdown else [frame]
    )
    for index, group in enumerate(groups):
        ordered = group.sort("step_index")
        labels = [f"{i}. {s}" for i, s in zip(ordered["step_index"], ordered["step"], strict=True)]
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[100 * (v or 0) for v in ordered["conversion_from_start"].to_list()],
                customdata=ordered["actors"].to_list(),
                hovertemplate="%{x}: %{y:.1f}% (%{customdata} actors)<extra></extra>",
                name=str(group[breakdown][0]) if breakdown else "all",
                marker_color=_COLORS[index % len(_COLORS)],
            )
        )
    figure.update_layout(title=title, barmode="group", showlegend=bool(breakdown), **_LAYOUT)
    figure.update_yaxes(title="% of first step", range=[0, 100])
    return figure


def retention_heatmap(frame: pl.DataFrame, *, title: str = "Retention by cohort") -> go.Figure:
    """Cohorts down, periods across, the share of each cohort that came back."""
    if frame.is_empty():
        return _empty(title)
    cohorts = sorted(frame["cohort"].unique().to_list())
    periods = sorted(frame["period"].unique().to_list())
    rates = {(r["cohort"], r["period"]): r["rate"] for r in frame.iter_rows(named=True)}
    sizes = {r["cohort"]: r["cohort_size"] for r in frame.iter_rows(named=True)}
    z = [[_percent(rates.get((c, p))) for p in periods] for c in cohorts]
    labels = [f"{c} ({sizes.get(c, 0):,})" for c in cohorts]
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(p) for p in periods],
            y=labels,
            text=[[("" if v is None else f"{v:.0f}%") for v in row] for row in z],
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=100,
            hovertemplate="cohort %{y}, period %{x}: %{z:.1f}%<extra></extra>",
        )
    )
    figure.update_layout(title=title, **{**_LAYOUT, "height": max(340, 28 * len(cohorts) + 120)})
    figure.update_xaxes(title="period", type="category")
    figure.update_yaxes(title="cohort (size)", autorange="reversed", type="category")
    return figure


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


def retention_curve(
    frame: pl.DataFrame, *, title: str = "Share of views still watching, second by second"
) -> go.Figure:
    """Share of views still watching at each second of the video."""
    if frame.is_empty():
        return _empty(title)
    ordered = frame.sort("second")
    figure = go.Figure(
        go.Scatter(
            x=ordered["second"].to_list(),
            y=[_percent(v) for v in ordered["share"].to_list()],
            customdata=ordered["viewers"].to_list(),
            hovertemplate="%{x} s: %{y:.1f}% (%{customdata} views)<extra></extra>",
            mode="lines",
            fill="tozeroy",
            line={"color": _COLORS[0]},
        )
    )
    figure.update_layout(title=title, **_LAYOUT)
    figure.update_xaxes(title="second of the video")
    figure.update_yaxes(title="% of views still watching", range=[0, 100])
    return figure


def ranked_bars(
    frame: pl.DataFrame, *, label: str, value: str, title: str, top: int = 15
) -> go.Figure:
    """Horizontal bars, largest first, for the ``top`` rows of a ranking."""
    if frame.is_empty():
        return _empty(title)
    ordered = frame.sort(value, descending=True, nulls_last=True).head(top)
    figure = go.Figure(
        go.Bar(
            x=ordered[value].to_list(),
            y=[str(v) for v in ordered[label].to_list()],
            orientation="h",
            marker_color=_COLORS[1],
        )
    )
    figure.update_layout(title=title, **{**_LAYOUT, "height": max(340, 24 * ordered.height + 100)})
    figure.update_yaxes(autorange="reversed", type="category")
    figure.update_xaxes(title=value)
    return figure


def choropleth(frame: pl.DataFrame, *, metric: str, title: str) -> go.Figure:
    """A world map coloured by ``metric`` per region (ISO alpha-2 codes in ``region``).

    The map's outlines come from the topojson the page's graph config points at (served by the
    app, not a CDN).
    """
    known = frame.filter(pl.col("region").is_in(list(ISO3))) if not frame.is_empty() else frame
    if known.is_empty():
        return _empty(title)
    figure = go.Figure(
        go.Choropleth(
            locations=[ISO3[r] for r in known["region"].to_list()],
            locationmode="ISO-3",
            z=known[metric].to_list(),
            text=known["region"].to_list(),
            hovertemplate="%{text}: %{z:,.2f}<extra></extra>",
            colorscale="Blues",
            marker_line_color="#94a3b8",
            colorbar={"title": {"text": metric}},
        )
    )
    figure.update_layout(title=title, **{**_LAYOUT, "height": 440})
    figure.update_geos(
        scope="world",
        resolution=110,
        projection_type="natural earth",
        showframe=False,
        showcoastlines=False,
        showcountries=True,
        countrycolor="#cbd5e1",
        showland=True,
        landcolor="#f1f5f9",
        showocean=False,
        showlakes=False,
        showrivers=False,
    )
    return figure
