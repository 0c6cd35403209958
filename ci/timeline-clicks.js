// A probe for ci/timeline-check.sh, appended to a copy of a timeline page
// after its viewer: clicks every fault and crash mark and the violation's
// "show" button, and checks that the details panel then shows that event
// (its index and its text). The verdict goes to body[data-clicks], which
// the check reads from the DOM Chromium dumps.
(() => {
  'use strict';
  const details = document.getElementById('details');
  const marks = JSON.parse(document.getElementById('timeline-data').textContent).marks;
  const wrong = [];
  let clicked = 0;
  const shows = i => details.textContent.includes('#' + i) &&
    details.textContent.includes(marks[i][4]);
  document.querySelectorAll('.mark.fault, .mark.crash').forEach(mark => {
    mark.click();
    clicked++;
    if (!shows(Number(mark.dataset.mark))) wrong.push(mark.dataset.mark);
  });
  const jump = document.getElementById('jump-to-violation');
  if (jump) {
    const at = Number(document.getElementById('violation').dataset.mark);
    jump.click();
    clicked++;
    if (!shows(at)) wrong.push('violation ' + at);
  }
  document.body.dataset.clicks = clicked + ' clicked, ' + wrong.length + ' wrong' +
    (wrong.length ? ': ' + wrong.join(' ') : '');
})();
