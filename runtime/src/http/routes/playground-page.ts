/**
 * The playground: one self-contained page (no build step, no external assets) so a person can
 * try the served model from a browser pointed at the pod or a port-forward.
 */
export const PLAYGROUND_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sentiment playground</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1f2933; background: #f5f7fa; }
  main { max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 1.4rem; margin-bottom: .2rem; }
  #model { color: #52606d; font-size: .9rem; margin-bottom: 1rem; }
  textarea { width: 100%; min-height: 7rem; font: inherit; padding: .6rem; box-sizing: border-box; border: 1px solid #cbd2d9; border-radius: 6px; }
  button { margin-top: .6rem; font: inherit; padding: .5rem 1.2rem; border: 0; border-radius: 6px; background: #3e4c59; color: white; cursor: pointer; }
  button:disabled { opacity: .6; cursor: wait; }
  #result { margin-top: 1.4rem; }
  #label { font-size: 1.3rem; font-weight: 600; }
  .row { display: grid; grid-template-columns: 7rem 1fr 4rem; align-items: center; gap: .6rem; margin: .35rem 0; }
  .track { background: #e4e7eb; border-radius: 4px; height: .9rem; overflow: hidden; }
  .bar { background: #3e4c59; height: 100%; }
  .bar.positive { background: #2f9e44; } .bar.negative { background: #c92a2a; }
  #warnings, .warnings { color: #b35c00; font-size: .9rem; }
  #error { color: #c92a2a; }
  .options { display: flex; gap: 1rem; align-items: center; margin-top: .6rem; }
  .options button { margin-top: 0; }
  #latency { color: #52606d; font-size: .9rem; }
  table { border-collapse: collapse; width: 100%; margin-top: 1rem; font-size: .95rem; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e4e7eb; vertical-align: top; }
  td.label.positive { color: #2f9e44; } td.label.negative { color: #c92a2a; }
</style>
</head>
<body>
<main>
  <h1>Sentiment playground</h1>
  <div id="model">loading model…</div>
  <label for="text">Text</label>
  <textarea id="text" placeholder="Type a sentence"></textarea>
  <div class="options">
    <button id="analyze">Analyze</button>
    <label><input type="checkbox" id="perLine"> One text per line</label>
    <span id="latency"></span>
  </div>
  <table id="lines" hidden>
    <thead><tr><th>#</th><th>Text</th><th>Label</th><th>Score</th><th>Warnings</th></tr></thead>
    <tbody></tbody>
  </table>
  <div id="result" hidden>
    <div>Label: <span id="label"></span> <span id="score"></span></div>
    <div id="scores"></div>
    <div id="warnings"></div>
  </div>
  <div id="error"></div>
</main>
<script>
  const $ = (id) => document.getElementById(id);
  // An example in the model's own writing system, so the page invites text the model can read.
  const EXAMPLES = {
    Latn: { lang: 'en', text: 'A warm, funny and beautifully acted film.' },
    Hani: { lang: 'zh', text: '这家酒店的服务很好，房间也很干净。' },
    Hira: { lang: 'ja', text: 'この映画は本当に面白かったです。' },
    Hang: { lang: 'ko', text: '이 영화는 정말 재미있었어요.' },
    Cyrl: { lang: 'ru', text: 'Прекрасный, тёплый и смешной фильм.' },
  };
  fetch('v1/model').then((r) => r.json()).then((m) => {
    $('model').textContent = m.name + ' · revision ' + m.revision + ' · ' + m.quantization + ' on ' + m.executionProvider;
    // Kana or Hangul beside Han means Japanese or Korean, not Chinese.
    const example = EXAMPLES[['Hira', 'Hang', 'Cyrl', 'Hani', 'Latn'].find((script) => m.scripts.includes(script))];
    const lang = m.languages[0] || (example && example.lang);
    if (lang) $('text').lang = lang;
    $('text').placeholder = example ? 'Type a sentence, e.g. ' + example.text : "Type a sentence in the model's language";
  }).catch(() => { $('model').textContent = 'model information unavailable'; });

  function showOne(result) {
    $('label').textContent = result.label;
    $('score').textContent = '(' + result.score.toFixed(4) + ')';
    $('scores').replaceChildren(...result.scores.map((s) => {
      const row = document.createElement('div');
      row.className = 'row';
      row.dataset.label = s.label;
      row.innerHTML = '<span class="name"></span><div class="track"><div class="bar"></div></div><span class="value"></span>';
      row.querySelector('.name').textContent = s.label;
      row.querySelector('.bar').classList.add(s.label);
      row.querySelector('.bar').style.width = (s.score * 100).toFixed(1) + '%';
      row.querySelector('.value').textContent = s.score.toFixed(4);
      return row;
    }));
    $('warnings').textContent = result.warnings.join(' ');
    $('result').hidden = false;
  }

  function showLines(texts, results) {
    $('lines').tBodies[0].replaceChildren(...results.map((result, i) => {
      const row = document.createElement('tr');
      for (const [name, value] of [['index', String(i + 1)], ['text', texts[i]], ['label', result.label], ['score', result.score.toFixed(4)], ['warnings', result.warnings.join(' ')]]) {
        const cell = row.insertCell();
        cell.className = name;
        cell.textContent = value;
      }
      row.cells[2].classList.add(result.label);
      return row;
    }));
    $('lines').hidden = false;
  }

  async function analyze() {
    const perLine = $('perLine').checked;
    const texts = perLine ? $('text').value.split('\\n').map((line) => line.trim()).filter(Boolean) : [$('text').value];
    $('error').textContent = '';
    $('latency').textContent = '';
    $('analyze').disabled = true;
    try {
      const started = performance.now();
      const response = await fetch('v1/sentiment', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(perLine ? { texts } : { text: texts[0] }) });
      const body = await response.json();
      const ms = performance.now() - started;
      if (!response.ok) throw new Error(body.error || response.statusText);
      $('latency').textContent = 'answered in ' + (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + ' ms' + (perLine ? ' (' + texts.length + ' texts)' : '');
      $('result').hidden = perLine;
      $('lines').hidden = !perLine;
      if (perLine) showLines(texts, body.results);
      else showOne(body.results[0]);
    } catch (error) {
      $('result').hidden = true;
      $('lines').hidden = true;
      $('error').textContent = String(error.message || error);
    } finally {
      $('analyze').disabled = false;
    }
  }
  $('analyze').addEventListener('click', analyze);
  $('text').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) analyze(); });
</script>
</body>
</html>
`;
