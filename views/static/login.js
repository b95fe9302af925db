// The login page: one client of the HTTP login contract (challenge → personal_sign → verify).
// Wallets are discovered with EIP-6963 (a legacy window.ethereum is the fallback); every ordinary
// failure gets a plain message and a way forward. No inline script: data comes in data attributes.
(() => {
  const $ = (id) => document.getElementById(id);
  const root = $('login');
  const uid = root.dataset.uid;
  const chains = JSON.parse(root.dataset.chains);
  const texts = JSON.parse(root.dataset.texts);
  const t = (key, values = {}) => (texts[key] || key).replace(/\{(\w+)\}/g, (m, name) => (name in values ? values[name] : m));
  const chainName = (id) => (chains.find((c) => c.id === id) || {}).name || t('login.unknownChain', { id: String(id) });

  function say(element, text, isError = false) {
    element.textContent = text;
    element.classList.toggle('error', isError);
  }
  const status = (text, isError) => say($('status'), text, isError);

  /** POSTs to the contract; refusals carry the server's reason code, a network failure `unreachable`. */
  async function post(path, body) {
    let res;
    try {
      res = await fetch(`/interaction/${uid}/${path}`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
    } catch {
      throw Object.assign(new Error(t('error.unreachable')), { code: 'unreachable' });
    }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(data.error_description || `HTTP ${res.status}`), { code: data.error || 'server_error', server: true });
    return data;
  }

  const toHex = (text) => `0x${Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('')}`;

  // --- wallet discovery (EIP-6963), with the legacy injected provider as fallback ---
  const announced = new Map();
  let chosen;
  let flow = 0; // increases on every new attempt, so a stale one stops quietly
  let busy = false; // an attempt is waiting on the wallet or the server
  let rendered = ''; // the wallets the list shows, so an unchanged list is not rebuilt (and focus kept)

  function renderWallets() {
    const list = [...announced.values()];
    if (!list.length && window.ethereum) list.push({ info: { uuid: 'legacy', name: t('login.browserWallet') }, provider: window.ethereum });
    const ul = $('wallets');
    const shown = list.map((entry) => entry.info.uuid).join('\n');
    if (shown === rendered) return list.length;
    rendered = shown;
    ul.replaceChildren(
      ...list.map((entry) => {
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.wallet = entry.info.rdns || entry.info.uuid;
        if (typeof entry.info.icon === 'string' && entry.info.icon.startsWith('data:image/')) {
          const img = document.createElement('img');
          img.src = entry.info.icon;
          img.alt = '';
          button.append(img);
        }
        button.append(document.createTextNode(entry.info.name));
        button.walletProvider = entry.provider;
        button.addEventListener('click', () => choose(entry));
        li.append(button);
        return li;
      }),
    );
    if (list.length === 1) ul.querySelector('button').classList.add('primary');
    markChosen();
    return list.length;
  }

  /** Marks the chosen wallet's button (aria-pressed) for sight and for screen readers; returns it. */
  function markChosen() {
    if (!chosen) return undefined;
    let mine;
    for (const button of $('wallets').querySelectorAll('button')) {
      const isChosen = button.walletProvider === chosen.provider;
      button.setAttribute('aria-pressed', String(isChosen));
      if (isChosen) mine = button;
    }
    return mine;
  }

  /** A button that hides itself when pressed hands keyboard focus to the chosen wallet, not to the page top. */
  function keepFocus() {
    const button = markChosen();
    if (button) button.focus();
  }

  window.addEventListener('eip6963:announceProvider', (event) => {
    const detail = event.detail;
    if (!detail || !detail.info || !detail.provider || announced.has(detail.info.uuid)) return;
    announced.set(detail.info.uuid, detail);
    renderWallets();
  });
  window.dispatchEvent(new Event('eip6963:requestProvider'));
  // Wallets announce at once; give late ones a moment before saying there is none.
  setTimeout(() => {
    if (!renderWallets()) {
      status(t('error.noWallet'), true);
      $('manual').open = true;
      $('mobile').open = true;
    }
  }, 400);

  const listening = new WeakSet(); // providers whose accountsChanged we already follow

  function choose(entry) {
    const { provider } = entry;
    if (!listening.has(provider) && provider.on) {
      listening.add(provider);
      provider.on('accountsChanged', (accounts) => {
        if (!chosen || chosen.provider !== provider || !current.address || !accounts[0] || accounts[0].toLowerCase() === current.address.toLowerCase()) return;
        flow++;
        busy = false;
        $('details').hidden = true;
        status(t('error.accountChanged', { address: accounts[0] }), true);
        offerRetry();
      });
    }
    // A second click on the wallet already asked would open a second request in it (MetaMask answers
    // that with -32002) or a second challenge to sign: the first request is still the one to answer.
    if (busy && chosen && chosen.provider === provider) return;
    chosen = entry;
    markChosen();
    run();
  }

  const current = { address: undefined };

  function offerRetry() {
    $('retry').hidden = false;
  }

  function showDetails(address, chainId, message) {
    $('address').textContent = message.split('\n')[1] || address;
    $('network').textContent = chainName(chainId);
    $('message').textContent = message;
    $('details').hidden = false;
  }

  /** One login attempt. After an expired challenge it runs once more by itself (`afterExpiry`),
   *  and then keeps saying why the wallet asks again instead of the usual progress lines. */
  async function run(afterExpiry = false) {
    const attempt = ++flow;
    const progress = (text) => (afterExpiry ? status(t('error.expired'), true) : status(text));
    const { provider, info } = chosen;
    const wallet = info.name;
    $('retry').hidden = true;
    $('switch-network').hidden = true;
    busy = true;
    let leaving = false;
    // A wallet that never answers (its window closed without a reply) must not leave the user stuck.
    setTimeout(() => attempt === flow && busy && offerRetry(), 30_000);
    try {
      progress(t('status.connecting', { wallet }));
      const [address] = await provider.request({ method: 'eth_requestAccounts' });
      const chainId = Number.parseInt(await provider.request({ method: 'eth_chainId' }), 16);
      if (attempt !== flow) return;
      current.address = address;
      if (!chains.some((c) => c.id === chainId)) {
        status(t('error.wrongNetwork', { chain: chainName(chainId) }), true);
        offerSwitch(provider);
        return;
      }
      const { message } = await post('challenge', { address, chainId });
      if (attempt !== flow) return;
      showDetails(address, chainId, message);
      progress(t('status.sign', { wallet }));
      const signature = await provider.request({ method: 'personal_sign', params: [toHex(message), address] });
      if (attempt !== flow) return;
      status(t('status.checking'));
      const { redirectTo } = await post('verify', { message, signature });
      status(t('status.done'));
      leaving = true;
      window.location.assign(redirectTo);
    } catch (err) {
      if (attempt !== flow) return;
      // An expired challenge is replaced at once, once: the user only has to sign again.
      if (err.code === 'expired' && !afterExpiry) {
        run(true);
        return;
      }
      status(explain(err, wallet), true);
      offerRetry();
    } finally {
      if (attempt === flow && !leaving) busy = false;
    }
  }

  function explain(err, wallet) {
    if (err.code === 4001) return t('error.rejected');
    if (err.code === -32002) return t('error.locked', { wallet });
    if (err.code === 'unreachable') return t('error.unreachable');
    if (err.code === 'expired') return t('error.expiredRetry');
    if (err.server) return t('error.server', { description: err.message });
    return (err && err.message) || String(err);
  }

  function offerSwitch(provider) {
    const target = chains[0];
    const button = $('switch-network');
    button.textContent = t('login.switchNetwork', { chain: target.name });
    button.hidden = false;
    button.onclick = async () => {
      button.hidden = true;
      keepFocus();
      try {
        await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${target.id.toString(16)}` }] });
        run();
      } catch (err) {
        status(err.code === 4001 ? t('error.rejected') : t('error.switchFailed'), true);
        button.hidden = false;
        offerRetry();
      }
    };
  }

  $('retry').addEventListener('click', () => {
    if (!chosen) return;
    keepFocus();
    run();
  });

  // --- signing elsewhere: copy the message, paste the signature ---
  const manualStatus = (text, isError) => say($('manual-status'), text, isError);
  let manualMessage;

  $('manual-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const address = $('manual-address').value.trim();
    const chainId = Number($('manual-chain').value);
    // A failed request must not leave an earlier message on screen to be signed.
    manualMessage = undefined;
    $('manual-sign').hidden = true;
    $('manual-signature').value = '';
    manualStatus('');
    try {
      const { message } = await post('challenge', { address, chainId });
      manualMessage = message;
      $('manual-message').value = message;
      $('manual-sign').hidden = false;
      manualStatus('');
      $('manual-signature').focus();
    } catch (err) {
      manualStatus(explain(err), true);
    }
  });

  $('manual-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(manualMessage);
    } catch {
      $('manual-message').select();
      document.execCommand('copy');
    }
    manualStatus(t('manual.copied'));
  });

  $('manual-submit').addEventListener('click', async () => {
    const submit = $('manual-submit');
    if (submit.disabled || !manualMessage) return;
    submit.disabled = true;
    try {
      manualStatus(t('status.checking'));
      const { redirectTo } = await post('verify', { message: manualMessage, signature: $('manual-signature').value.trim() });
      manualStatus(t('status.done'));
      window.location.assign(redirectTo);
      return; // stays disabled while the browser leaves
    } catch (err) {
      if (err.server) {
        // The server burns a challenge on any refusal: that message can never be signed in with again.
        manualMessage = undefined;
        $('manual-sign').hidden = true;
        $('manual-signature').value = '';
        manualStatus(`${explain(err)} ${t('manual.getNew')}`, true);
        $('manual-address').focus();
      } else {
        manualStatus(explain(err), true); // not sent or not answered: the same message may be sent again
      }
    }
    submit.disabled = false;
  });
})();
