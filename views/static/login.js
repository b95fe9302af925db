// The login page: one client of the HTTP login contract (challenge → personal_sign → verify).
(() => {
  const root = document.getElementById('login');
  const uid = root.dataset.uid;
  const chains = JSON.parse(root.dataset.chains);
  const button = document.getElementById('connect');
  const status = document.getElementById('status');
  const say = (text, isError = false) => { status.textContent = text; status.classList.toggle('error', isError); };

  async function post(path, body) {
    const res = await fetch(`/interaction/${uid}/${path}`, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(data.error_description || `request failed (${res.status})`), { code: data.error });
    return data;
  }

  const toHex = (text) => '0x' + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('');

  async function login() {
    const wallet = window.ethereum;
    if (!wallet) { say('No wallet found in this browser. Install a wallet extension, or open this page in your wallet app.', true); return; }
    button.disabled = true;
    try {
      say('Waiting for your wallet…');
      const [address] = await wallet.request({ method: 'eth_requestAccounts' });
      const chainId = Number.parseInt(await wallet.request({ method: 'eth_chainId' }), 16);
      if (!chains.some((c) => c.id === chainId)) {
        say(`Your wallet is on a network this service does not accept (chain ${chainId}). Switch to ${chains.map((c) => c.name).join(', ')}.`, true);
        return;
      }
      const challenge = await post('challenge', { address, chainId });
      // The message's second line is the address in EIP-55 form, as the wallet will show it.
      document.getElementById('address').textContent = challenge.message.split('\n')[1];
      document.getElementById('network').textContent = (chains.find((c) => c.id === chainId) || {}).name || `chain ${chainId}`;
      document.getElementById('message').textContent = challenge.message;
      document.getElementById('details').hidden = false;
      say('Sign the message in your wallet.');
      const signature = await wallet.request({ method: 'personal_sign', params: [toHex(challenge.message), address] });
      say('Checking your signature…');
      const { redirectTo } = await post('verify', { message: challenge.message, signature });
      window.location.assign(redirectTo);
    } catch (err) {
      say(err && err.code === 4001 ? 'You rejected the request in your wallet. Try again when ready.' : (err && err.message) || String(err), true);
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener('click', login);
})();
