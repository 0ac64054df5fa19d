import { useState } from 'preact/hooks';

/** Copies `text`; says so in a live region, since the button's look alone would not. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      setCopied(false);
    }
    setTimeout(() => setCopied(null), 2500);
  };
  return (
    <span class="copy">
      <button type="button" class="button secondary" onClick={copy}>
        {label}
      </button>
      <span class="copy-status" aria-live="polite">
        {copied === true ? 'Copied' : copied === false ? 'Select the text and copy it' : ''}
      </span>
    </span>
  );
}

/** A secret the API shows once (API keys, webhook signing secrets): copy it now or never. */
export function SecretOnce({ what, secret }: { what: string; secret: string }) {
  return (
    <div class="secret" role="status">
      <p>
        <strong>Copy this {what} now:</strong> it will not be shown again.
      </p>
      <code class="secret-value">{secret}</code>
      <CopyButton text={secret} />
    </div>
  );
}
