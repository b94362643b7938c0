import { SourcesForm, TargetForm, TunnelsForm } from './EndpointForms.js';

export function EndpointForms() {
  return (
    <>
      <SourcesForm />
      <TargetForm />
      <TunnelsForm />
    </>
  );
}
