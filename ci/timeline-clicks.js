// A probe for ci/timeline-check.sh, appended to a copy of a timeline page
// after its viewer: clicks every fault and crash mark and the violation's
// "show" button, and checks that the details panel then shows that event
// (its index, exactly, and its text). Every fault and crash of the page's
// data must have had a mark to click. The verdict goes to
// body[data-clicks], which the check reads from the DOM Chromium dumps.
(() => {
  'use strict';
  const details = document.getElementById('details');
  const data = JSON.parse(document.getElementById('timeline-data').textContent);
  const classOf = mark => data.kinds[mark[2]].class;
  const expected = data.marks.filter(m => classOf(m) === 'fault' || classOf(m) === 'crash').length;
  // The value shown beside a field name in the details panel.
  const field = name => {
    const dt = [...details.querySelectorAll('dt')].find(d => d.textContent === name);
    return dt && dt.nextElementSibling ? dt.nextElementSibling.textContent : null;
  };
  const shows = i => field('index') === '#' + i && details.textContent.includes(data.marks[i][4]);
  const wrong = [];
  let clicked = 0;
  document.querySelectorAll('.mark.fault, .mark.crash').forEach(mark => {
    mark.click();
    clicked++;
    if (!shows(Number(mark.dataset.mark))) wrong.push(mark.dataset.mark);
  });
  if (clicked !== expected) wrong.push(clicked + ' marks for ' + expected + ' faults and crashes');
  const jump = document.getElementById('jump-to-violation');
  if (data.violation && !jump) wrong.push('no show button for the violation');
  if (jump) {
    jump.click();
    clicked++;
    if (!shows(data.violation.mark)) wrong.push('violation ' + data.violation.mark);
  }
  document.body.dataset.clicks = clicked + ' clicked, ' + wrong.length + ' wrong' +
    (wrong.length ? ': ' + wrong.join('; ') : '');
})();
