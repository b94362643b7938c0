import { actions, useFerry } from '../../appState.js';

export function YamlPanel() {
  const yaml = useFerry((s) => s.job.yaml);
  const syntaxError = useFerry((s) => s.job.syntaxError);
  return (
    <div className="panel">
      <div className="row" style={{ marginBottom: 6 }}>
        <h2 className="grow">
          <label htmlFor="job-yaml" style={{ color: 'inherit' }}>
            job.yaml
          </label>
        </h2>
        <span className="muted">what is saved and run</span>
      </div>
      <textarea
        id="job-yaml"
        className="yaml"
        data-testid="job-yaml"
        value={yaml}
        spellCheck={false}
        aria-invalid={syntaxError !== null}
        onChange={(e) => actions.setYaml(e.target.value)}
      />
    </div>
  );
}

export function ProblemsPanel() {
  const problems = useFerry((s) => s.job.problems);
  const from = useFerry((s) => s.job.problemsFrom);
  const message = useFerry((s) => s.job.message);
  const error = useFerry((s) => s.job.error);
  return (
    <div className="panel" data-testid="job-problems" data-count={problems.length} data-from={from}>
      <div className="row">
        <h2 className="grow">Problems</h2>
        <span className="muted">{from === 'host' ? 'from job.validate' : 'quick check (Validate asks the host)'}</span>
      </div>
      {error && (
        <p className="error" data-testid="job-error">
          {error}
        </p>
      )}
      {message && !error && (
        <p className="message" data-testid="job-message">
          {message}
        </p>
      )}
      {problems.length === 0 ? (
        <p className="okText">No problems{from === 'local' ? ' found locally' : ''}.</p>
      ) : (
        <ul className="problems">
          {problems.map((p, i) => (
            <li key={`${p.path}:${i}`} data-testid="job-problem" data-path={p.path}>
              <code>{p.path || '(file)'}</code>
              {p.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
