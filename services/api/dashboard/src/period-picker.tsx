import { useEffect, useId, useState } from 'preact/hooks';
import { PERIODS } from './dashboard-state';
import type { DashboardView } from './dashboard-view';

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

/** Every preset of the API, and a custom range applied only once both dates are chosen. */
export function PeriodPicker({ view }: { view: DashboardView }) {
  const { state, update } = view;
  const id = useId();
  const [custom, setCustom] = useState(state.period === 'custom');
  const [from, setFrom] = useState(state.from ?? daysAgo(29));
  const [to, setTo] = useState(state.to ?? today());
  useEffect(() => setCustom(state.period === 'custom'), [state.period]);

  const choose = (value: string) => {
    if (value === 'custom') return setCustom(true);
    setCustom(false);
    update({ period: value, from: null, to: null, interval: null });
  };
  const apply = (e: Event) => {
    e.preventDefault();
    if (from && to && from <= to) update({ period: 'custom', from, to, interval: null });
  };
  return (
    <div class="period-picker">
      <label for={id}>Period</label>
      <select
        id={id}
        value={custom ? 'custom' : state.period}
        onChange={(e) => choose(e.currentTarget.value)}
      >
        {PERIODS.map((p) => (
          <option key={p.value} value={p.value}>
            {p.label}
          </option>
        ))}
      </select>
      {custom && (
        <form class="custom-range" onSubmit={apply}>
          <label>
            From{' '}
            <input
              type="date"
              required
              value={from}
              max={to}
              onInput={(e) => setFrom(e.currentTarget.value)}
            />
          </label>
          <label>
            To{' '}
            <input type="date" required value={to} min={from} onInput={(e) => setTo(e.currentTarget.value)} />
          </label>
          <button class="button secondary" type="submit" disabled={!from || !to || from > to}>
            Apply
          </button>
        </form>
      )}
    </div>
  );
}
