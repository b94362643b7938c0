import { useState } from 'react';
import { actions, useFerry, useFerryShallow } from '../../appState.js';
import { isRecord, listAt, recordAt, textOf, valueAt } from '../../store/jobModel.js';
import { EndpointFactsView, EndpointTestButton } from './EndpointTest.js';
import { CheckField, Section, SelectField, TextField } from './fields.js';
import { SecretControl } from './SecretControl.js';

function useTunnelNames(): string[] {
  return useFerryShallow((s) => Object.keys(recordAt(s.job.draft, ['tunnels'])));
}

function SourceItem({ index }: { index: number }) {
  const name = useFerry((s) => textOf(valueAt(s.job.draft, ['sources', index, 'name'])));
  const tunnels = useTunnelNames();
  return (
    <div className="item" data-testid={`source-${index}`}>
      <div className="item-head">
        <strong>{name || `source ${index + 1}`}</strong>
        {name && <EndpointTestButton name={name} />}
        <button type="button" className="link" aria-label={`Remove source ${name || index + 1}`} onClick={() => actions.setField(['sources', index], undefined)}>
          Remove
        </button>
      </div>
      <div className="formgrid">
        <TextField label="name" path={['sources', index, 'name']} placeholder="idc-01" />
        <TextField label="url" path={['sources', index, 'url']} placeholder="redis://10.0.0.11:6379/0" className="wide" />
        <SelectField label="stage" path={['sources', index, 'stage']} options={['direct', 'replica']} emptyLabel="direct (default)" />
        <SelectField label="via (tunnel)" path={['sources', index, 'via']} options={tunnels} emptyLabel="direct" />
        <div className="field span3">
          <span className="label">password</span>
          <SecretControl label="password" defaultName={`${name || `source ${index + 1}`} password`} target={{ path: ['sources', index, 'url'], kind: 'url' }} testId={`secret-source-${index}`} />
        </div>
      </div>
      {name && <EndpointFactsView name={name} />}
    </div>
  );
}

export function SourcesForm() {
  const count = useFerry((s) => listAt(s.job.draft, ['sources']).length);
  return (
    <Section title={`Sources (${count})`} testId="job-sources">
      {Array.from({ length: count }, (_, i) => (
        <SourceItem key={i} index={i} />
      ))}
      <button
        type="button"
        data-testid="source-add"
        onClick={() => actions.addItem(['sources'], { name: `source-${count + 1}`, url: 'redis://127.0.0.1:6379' })}
      >
        + Add source
      </button>
    </Section>
  );
}

export function TargetForm() {
  const tunnels = useTunnelNames();
  return (
    <Section title="Target" testId="job-target">
      <div className="item">
        <div className="item-head">
          <strong>target</strong>
          <EndpointTestButton name="target" />
        </div>
        <div className="formgrid">
          <TextField label="url" path={['target', 'url']} placeholder="rediss://app@master.example:6379" className="wide" />
          <SelectField label="via (tunnel)" path={['target', 'via']} options={tunnels} emptyLabel="direct" />
          <CheckField label="cluster (insist)" path={['target', 'cluster']} whenOff={undefined} title="Unchecked: detected" />
          <div className="field full">
            <span className="label">password</span>
            <SecretControl label="password" defaultName="target password" target={{ path: ['target', 'url'], kind: 'url' }} testId="secret-target" />
          </div>
        </div>
        <EndpointFactsView name="target" />
      </div>
    </Section>
  );
}

function TunnelItem({ name }: { name: string }) {
  const others = useTunnelNames().filter((n) => n !== name);
  const base = ['tunnels', name] as const;
  return (
    <div className="item" data-testid={`tunnel-${name}`}>
      <div className="item-head">
        <strong className="mono">{name}</strong>
        <button type="button" className="link" aria-label={`Remove tunnel ${name}`} onClick={() => actions.setField(base, undefined)}>
          Remove
        </button>
      </div>
      <div className="formgrid">
        <TextField label="host" path={[...base, 'host']} placeholder="bastion.example or ~/.ssh/config Host" className="wide" />
        <TextField label="port" path={[...base, 'port']} kind="number" placeholder="22" />
        <TextField label="user" path={[...base, 'user']} placeholder="your user" />
        <TextField label="identityFile" path={[...base, 'identityFile']} placeholder="~/.ssh/id_ed25519" className="wide" />
        <SelectField label="jump (through)" path={[...base, 'jump']} options={others} emptyLabel="none" />
        <CheckField label="agent" path={[...base, 'agent']} whenOff={undefined} title="use SSH_AUTH_SOCK" />
        <TextField label="knownHosts" path={[...base, 'knownHosts']} placeholder="~/.ssh/known_hosts" className="wide" />
        <div className="field full">
          <span className="label">password</span>
          <SecretControl label="SSH password" defaultName={`${name} ssh password`} target={{ path: [...base, 'password'], kind: 'field' }} testId={`secret-tunnel-${name}-password`} />
        </div>
        <div className="field full">
          <span className="label">key passphrase</span>
          <SecretControl label="key passphrase" defaultName={`${name} passphrase`} target={{ path: [...base, 'passphrase'], kind: 'field' }} testId={`secret-tunnel-${name}-passphrase`} />
        </div>
      </div>
    </div>
  );
}

export function TunnelsForm() {
  const names = useTunnelNames();
  const [newName, setNewName] = useState('');
  const taken = useFerry((s) => isRecord(s.job.draft.tunnels) && newName in s.job.draft.tunnels);
  const add = () => {
    if (newName.trim() === '' || taken) return;
    actions.setField(['tunnels', newName.trim()], { host: '' });
    setNewName('');
  };
  return (
    <Section title={`SSH tunnels (${names.length})`} open={names.length > 0} testId="job-tunnels">
      {names.map((n) => (
        <TunnelItem key={n} name={n} />
      ))}
      <div className="row">
        <input
          aria-label="New tunnel name"
          placeholder="tunnel name"
          value={newName}
          data-testid="tunnel-new-name"
          onChange={(e) => setNewName(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') add();
          }}
        />
        <button type="button" data-testid="tunnel-add" disabled={newName.trim() === '' || taken} onClick={add}>
          + Add tunnel
        </button>
      </div>
    </Section>
  );
}
