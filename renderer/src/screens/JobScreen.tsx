import { useFerry } from '../appState.js';
import { EndpointForms } from '../components/job/index.js';
import { JobFileBar } from '../components/job/JobFileBar.js';
import { OptionsForm } from '../components/job/OptionsForm.js';
import { ProblemsPanel, YamlPanel } from '../components/job/YamlPanel.js';

export function JobScreen() {
  const syntaxError = useFerry((s) => s.job.syntaxError);
  return (
    <section aria-label="Job">
      <JobFileBar />
      <div className="jobgrid">
        <div>
          {syntaxError && (
            <p className="error" role="status">
              The YAML does not parse ({syntaxError}); the forms show the last good version and are off until it is fixed.
            </p>
          )}
          <fieldset disabled={syntaxError !== null} style={{ border: 'none', padding: 0, margin: 0, minWidth: 0 }}>
            <EndpointForms />
            <OptionsForm />
          </fieldset>
        </div>
        <div>
          <YamlPanel />
          <ProblemsPanel />
        </div>
      </div>
    </section>
  );
}
