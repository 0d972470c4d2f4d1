import { useState } from 'react';
import { readApiToken, saveApiToken } from '../api/client';
import { Dialog } from './dialog';
import { Field } from './field';

/** Sets the bearer token sent with changes when the scheduler runs with API_TOKEN. */
export function TokenDialog({ onClose }: { onClose: () => void }) {
  const [token, setToken] = useState(readApiToken);
  const save = () => {
    saveApiToken(token.trim());
    onClose();
  };
  return (
    <Dialog title="API token" onClose={onClose} actions={
      <>
        <button type="button" className="button" onClick={onClose}>Cancel</button>
        <button type="button" className="button button-primary" onClick={save}>Save</button>
      </>
    }>
      <form onSubmit={(e) => { e.preventDefault(); save(); }}>
        <Field label="Token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)}
          hint="Needed only when the scheduler runs with API_TOKEN. Kept in this browser and sent with scheduling, cancel, retry, scale and kill." />
      </form>
    </Dialog>
  );
}
