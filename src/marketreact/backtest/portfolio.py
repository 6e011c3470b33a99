"""The daily portfolio of open trades: weights, returns, exposure and equity."""

from __future__ import annotations

from typing import Any

import numpy as np

from marketreact._typing import FloatArray, IntArray
from marketreact.backtest.fills import OpenSplit


def portfolio_daily(grid_size: int, first: IntArray, last: IntArray, weight_basis: FloatArray,
                    legs: FloatArray, ret_cells: IntArray, ret_trades: IntArray,
                    ret_values: FloatArray, direction: FloatArray, hedge_ratio: FloatArray,
                    cost: float, *, split: OpenSplit | None = None) -> dict[str, FloatArray]:
    """Daily returns of the equal-weight (or signal-weight) portfolio of trades.

    Weights are set at closes and, on a session where trades enter at the
    open, at that open; between two such moments positions are held (drift is
    not charged as turnover). Let ``a_i`` be 1 (equal weights) or ``|signal|``.

    * At the close of ``t - 1``, after that close's exits, the positions held
      overnight into ``t`` get ``W_i = a_i / A_t`` (``A_t`` their sum); a
      position entered at the open of ``t`` is not among them.
    * If no trade enters at the open of ``t`` the session is booked close to
      close at those weights: ``r_t = sum_i W_i x_i`` with ``x_i`` the trade's
      signed, hedged return (as without ``split``).
    * If trades enter at the open of ``t``, the session is split. A position
      held overnight is *tradable* at that open if its stock has an open and a
      close on ``t`` and that open is not earlier than the open of any entry of
      ``t``; otherwise it is *frozen*: kept at ``W_i`` and booked close to
      close with its hedge. With ``Phi_t`` the frozen weight, the overnight
      return of the tradable positions ``R_on = sum W_i x^on_i`` and, at the
      open, the tradable positions and the entries share ``1 - Phi_t`` as
      ``w_i = (1 - Phi_t) a_i / A'_t``, earning
      ``R_id = sum a_i x^id_i / A'_t`` (an entry earns only open to close). A
      hedge leg whose market has no open that day is not re-weighted at the
      open: it is held close to close at ``W_i`` (its P&L ``F_t``, with the
      frozen positions'), and a hedge leg that did not enter at the open goes
      on at a close. Then, per unit of the previous close's equity,
      ``1 + r_t = E_o + (E_o - Phi_t) R_id + F_t - cost * TC_t`` with
      ``E_o = 1 + R_on - cost * TO_t`` (the open's trades are paid at the
      open); without frozen legs this is ``(1 + R_on - cost TO_t)(1 + R_id) - 1``.

    Turnover sums ``|weight change|`` over legs (a trade has ``1 + |h|``):
    ``TO_t`` at the open of ``t``; ``TC_t`` is the change at the close of
    ``t - 1`` of the positions held overnight into ``t`` (re-weighting after
    exits, entries at that close) plus the weight sold at the close of ``t``
    (exits). A hedge leg that goes on at the exit close itself (hold 1 with a
    close-only market) is charged on and off there, as in the trade's net return.

    Parameters
    ----------
    grid_size : int
        Sessions on the daily grid.
    first, last : numpy.ndarray
        ``(E,)`` grid positions of each trade's first and last session of returns.
    weight_basis : numpy.ndarray
        ``(E,)`` ``a_i`` (1, or ``|signal|``).
    legs : numpy.ndarray
        ``(E,)`` ``1 + |h_i|``.
    ret_cells, ret_trades, ret_values : numpy.ndarray
        Flat lists: grid position, trade and close-to-close return ``x_{i,t}``
        (hedged and signed) of each (trade, session) with a price; a held
        trade without a cell on a session (its exchange closed) has return 0
        and cannot trade at that open.
    direction, hedge_ratio : numpy.ndarray
        ``(E,)`` for net and hedge exposure.
    cost : float
        Cost per unit of turnover (bps / 1e4).
    split : OpenSplit, optional
        Needed when trades enter at opens; without it every weight change is
        at a close (``--entry close``).

    Returns
    -------
    dict of str to numpy.ndarray
        ``gross_return, cost, turnover, exposure, net_exposure, hedge_exposure,
        n_positions, open_rebalance, frozen_weight`` on the grid (``cost`` is gross
        minus net; ``frozen_weight`` is ``Phi_t`` on sessions split at the open).
    """
    G = grid_size
    first = np.asarray(first, dtype=np.int64)
    last = np.asarray(last, dtype=np.int64)
    a = np.asarray(weight_basis, dtype=float)
    hw = np.abs(np.asarray(legs, dtype=float) - 1.0)
    n_trades = len(first)
    span = last - first + 1
    offset = np.concatenate(([0], np.cumsum(span)[:-1])).astype(np.int64)
    own = np.repeat(np.arange(n_trades), span)
    t = first[own] + np.arange(int(span.sum())) - offset[own]
    where_ret = offset[ret_trades] + np.asarray(ret_cells) - first[ret_trades]

    def dense(values: Any, fill: Any = 0.0) -> Any:
        out = np.full(len(t), fill, dtype=np.asarray(values).dtype)
        out[where_ret] = values
        return out

    def per_session(values: Any) -> FloatArray:
        return np.bincount(t, weights=values, minlength=G)[:G].astype(np.float64)

    def safe(x: FloatArray) -> FloatArray:
        return np.where(x > 0, x, 1.0)

    x_whole = dense(np.asarray(ret_values, dtype=float))
    at_open = split.at_open if split is not None else np.zeros(n_trades, dtype=bool)
    new = at_open[own] & (t == first[own])
    overnight = ~new
    a_c = a[own]
    A_on = per_session(np.where(overnight, a_c, 0.0))
    A_all = per_session(a_c)
    reb_session = per_session(new.astype(float)) > 0
    W_on = np.where(overnight, a_c / safe(A_on)[t], 0.0)
    reb = reb_session[t]

    if split is None:
        tradable = new.copy()
        zeros = np.zeros(len(t))
        s_on = s_id = m_on = m_id = m_whole = zeros
        m_ok = np.zeros(len(t), dtype=bool)
        hedge_in = first - 1
        hedge_opened = np.zeros(n_trades, dtype=bool)
    else:
        s_on, s_id = dense(split.stock_overnight), dense(split.stock_intraday)
        m_on, m_id = dense(split.hedge_overnight), dense(split.hedge_intraday)
        m_whole = dense(split.hedge_whole)
        m_ok = dense(split.hedge_ok, False)
        open_ns = dense(np.asarray(split.open_ns, dtype=np.int64), np.iinfo(np.int64).min)
        latest_entry = np.full(G, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(latest_entry, t[new], open_ns[new])
        tradable = new | (overnight & dense(split.stock_ok, False)
                          & (open_ns >= latest_entry[t]))
        hedge_in, hedge_opened = split.hedge_in, split.hedge_opened

    frozen = reb & overnight & ~tradable
    cont = reb & overnight & tradable
    held_hedge = overnight & (t > hedge_in[own]) & (hw[own] > 0)
    hedge_split = cont & held_hedge & m_ok
    A_tr = per_session(np.where(reb & tradable, a_c, 0.0))
    phi = per_session(np.where(frozen, W_on, 0.0))
    r_on = per_session(np.where(cont, W_on * (s_on + np.where(hedge_split, m_on, 0.0)), 0.0))
    x_id = np.where(new, x_whole, s_id + np.where(hedge_split, m_id, 0.0))
    r_id = per_session(np.where(reb & tradable, a_c * x_id, 0.0)) / safe(A_tr)
    frozen_pnl = per_session(np.where(frozen, W_on * x_whole, 0.0)
                             + np.where(cont & held_hedge & ~hedge_split, W_on * m_whole, 0.0))
    # Sessions without entries at the open: close to close at the weights of the previous close.
    r_close = np.bincount(t, weights=np.where(reb, 0.0, a_c * x_whole), minlength=G)[:G] \
        / safe(A_on)

    # Weights: S for stock legs, H (>= 0) for hedge legs, overnight (on) and intraday (id).
    omega = (1.0 - phi)[t] * a_c / safe(A_tr)[t]
    S_on = W_on
    S_id = np.where(reb & tradable, omega, W_on)
    H_on = np.where(held_hedge, hw[own] * W_on, 0.0)
    hedge_at_open = hedge_split | (new & hedge_opened[own] & (hw[own] > 0))
    H_id = np.where(reb & hedge_at_open, hw[own] * omega, H_on)
    first_cell = t == first[own]
    prev_S = np.where(first_cell, 0.0, np.roll(S_id, 1))
    prev_H = np.where(first_cell, 0.0, np.roll(H_id, 1))
    is_last = t == last[own]
    never_hedged = is_last & (hw[own] > 0) & ~(H_id > 0)
    to_open = per_session(np.where(reb, np.abs(S_id - S_on) + np.abs(H_id - H_on), 0.0))
    to_close = per_session(np.where(overnight, np.abs(S_on - prev_S) + np.abs(H_on - prev_H), 0.0)
                           + np.where(is_last, S_id + H_id
                                      + np.where(never_hedged, 2.0 * hw[own] * S_id, 0.0), 0.0))
    to_open = np.where(np.abs(to_open) < 1e-15, 0.0, to_open)
    to_close = np.where(np.abs(to_close) < 1e-15, 0.0, to_close)
    turnover = to_open + to_close

    gross_split = r_on + (1.0 + r_on - phi) * r_id + frozen_pnl
    gross = np.where(reb_session, gross_split, np.where(A_on > 0, r_close, 0.0))
    # The open's trades are paid at the open, before the intraday return:
    # gross - net = cost * TO_t * (1 + R_id) + cost * TC_t.
    cost_paid = np.where(reb_session, cost * to_open * (1.0 + r_id) + cost * to_close,
                         cost * turnover)
    sign_h = np.sign(np.asarray(hedge_ratio, dtype=float))
    return {
        "gross_return": gross,
        "cost": cost_paid,
        "turnover": turnover,
        "exposure": np.where(A_all > 0, 1.0, 0.0),
        "net_exposure": per_session(S_id * np.asarray(direction, dtype=float)[own]),
        "hedge_exposure": per_session(sign_h[own] * H_id),
        "n_positions": np.bincount(t, minlength=G)[:G].astype(np.int64),
        "open_rebalance": reb_session,
        "frozen_weight": np.where(reb_session, phi, 0.0),
    }
